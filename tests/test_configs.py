"""Every config composes, and every group option instantiates (tiny sizes, CPU)."""

from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate

from ltrr.arms.base import Arm
from ltrr.bandit.base import Policy
from ltrr.simulate.click_models import ClickModel
from ltrr.tasks import build
from tests.conftest import CONFIGS, compose_cfg

SMOKE = ["experiment=smoke"]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIGS / group).glob("*.yaml"))


@pytest.mark.parametrize("experiment", options("experiment"))
def test_experiments_compose(experiment):
    cfg = compose_cfg("train", [f"experiment={experiment}"])
    assert cfg.arms and cfg.policies


def test_debug_preset_composes():
    cfg = compose_cfg("train", ["debug=default"])
    assert cfg.encoder._target_.endswith("tiny") and cfg.seeds == [0]


def test_serve_config_composes():
    cfg = compose_cfg("serve")
    assert cfg.host == "127.0.0.1"


def test_default_is_the_real_job():
    cfg = compose_cfg("train")
    assert cfg.encoder.model_name_or_path == "packaged:all-MiniLM-L6-v2"
    assert cfg.logger.mode == "offline" and len(cfg.seeds) == 5 and "uniform" in cfg.policies


@pytest.mark.parametrize("arm", options("arm"))
def test_every_arm_instantiates(arm, tiny_world):
    cfg = compose_cfg("train", SMOKE + [f"+arm@arms.extra={arm}"])
    obj = instantiate(cfg.arms.extra)(docs=tiny_world.docs, name="extra")
    assert isinstance(obj, Arm) and obj.name == "extra"


@pytest.mark.parametrize("policy", options("policy"))
def test_every_policy_instantiates(policy):
    cfg = compose_cfg("train", SMOKE + [f"+policy@policies.extra={policy}"])
    pol = build.build_policy(cfg, "extra", ["a", "b"], n_features=4, seed=0)
    assert isinstance(pol, Policy) and pol.name == "extra"


@pytest.mark.parametrize("click_model", options("click_model"))
def test_every_click_model_instantiates(click_model):
    assert isinstance(instantiate(compose_cfg("train", [f"click_model={click_model}"]).click_model), ClickModel)


@pytest.mark.parametrize("encoder", options("encoder"))
def test_every_encoder_instantiates(encoder):
    enc = instantiate(compose_cfg("train", [f"encoder={encoder}", "encoder.device=cpu"]).encoder)
    assert enc.encode(["hello world"]).shape == (1, enc.dim)


@pytest.mark.parametrize("logger", options("logger"))
def test_logger_modes_are_valid(logger):
    assert compose_cfg("train", [f"logger={logger}"]).logger.mode in {"offline", "online", "disabled"}


def test_unknown_option_is_a_composition_error():
    with pytest.raises(ConfigCompositionException):
        compose_cfg("train", ["+policy@policies.x=does_not_exist"])


@pytest.mark.parametrize("override,msg", [("seeds=[]", "'seeds'"), ("rounds=0", "'rounds'"),
                                          ("+policy@policies.meta=uniform", "reserved")])
def test_bad_values_are_named(override, msg):
    with pytest.raises(ValueError, match=msg):
        build.check_config(compose_cfg("train", SMOKE + [override]))


def test_bad_arm_argument_names_the_config_key(tiny_world):
    cfg = compose_cfg("train", SMOKE + ["+arms.bm25.kk=1"])
    with pytest.raises(ValueError, match="config 'arms.bm25'.*kk"):
        build.build_arms(cfg, tiny_world.docs)


def test_bad_policy_value_names_the_config_key():
    cfg = compose_cfg("train", SMOKE + ["policies.lints.eps_mix=3"])
    with pytest.raises(ValueError, match="config 'policies.lints'.*eps_mix"):
        build.build_policy(cfg, "lints", ["a", "b"], n_features=4, seed=0)


def test_warm_by_becomes_the_columns_of_a_name_prefix():
    cfg = compose_cfg("train", SMOKE + ["+policies.neural_linear_ts.warm_by=slot."])
    names = ["bias", "slot.artist", "slot_cover", "slot.personal"]
    pol = build.build_policy(cfg, "neural_linear_ts", ["a", "b"], n_features=4, seed=0, feature_names=names)
    assert pol.warm_strata.tolist() == [1, 3] and pol.cell_hits.shape[0] == 3
    with pytest.raises(ValueError, match="config 'policies.neural_linear_ts.warm_by'.*'slot.'.*'x.'"):
        build.build_policy(cfg, "neural_linear_ts", ["a", "b"], n_features=4, seed=0,
                           feature_names=["bias", "x.a", "x.b", "c"])
    with pytest.raises(ValueError, match="warm_by.*no column names"):
        build.build_policy(cfg, "neural_linear_ts", ["a", "b"], n_features=4, seed=0)
    off = compose_cfg("train", SMOKE + ["+policies.neural_linear_ts.warm_by=null"])
    assert build.build_policy(off, "neural_linear_ts", ["a", "b"], n_features=4, seed=0).cell_hits.shape[0] == 1


@pytest.mark.parametrize("trainer", options("trainer"))
def test_every_trainer_config_composes_for_the_encoder_job(trainer):
    cfg = compose_cfg("train", ["experiment=encoders", f"trainer@encoders.trainer={trainer}"])
    t = cfg.encoders.trainer
    assert int(t.devices) >= 1 and int(t.num_nodes) >= 1 and t.strategy in ("auto", "ddp")


def test_encoder_job_models_instantiate_from_the_tiny_presets():
    from hydra.utils import instantiate

    cfg = compose_cfg("train", ["experiment=encoders_smoke"])
    joint, cross = instantiate(cfg.encoders.joint.model), instantiate(cfg.encoders.cross.model)
    assert joint.dim == 32 and cross.score("q", ["a", "b"]).shape == (2,)
    assert instantiate(cfg.encoders.joint.loss)(*[__import__("torch").zeros(2, 4)] * 2,
                                                __import__("torch").tensor([0, 2]))["loss"].ndim == 0


def test_encoder_job_rejects_an_unknown_data_kind(tmp_path):
    from ltrr.tasks.encoders import train_encoders

    cfg = compose_cfg("train", ["experiment=encoders_smoke", "encoders.data.kind=csv"])
    with pytest.raises(ValueError, match="encoders.data.kind"):
        train_encoders(cfg, tmp_path)


def test_main_job_warm_start_scales_with_the_run():
    # 15% of the run, the share tuned on the bench's 20,000 rounds (the policy's own value is for that length)
    assert compose_cfg("train").policies.neural_linear_ts.warm_rounds == 600
    assert compose_cfg("train", ["rounds=20000"]).policies.neural_linear_ts.warm_rounds == 3000
    assert compose_cfg("train", ["rounds=333"]).policies.neural_linear_ts.warm_rounds == 50
