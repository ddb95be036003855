"""ONNX Runtime execution of a transformer: lower single-query latency on CPU than eager PyTorch.

A short query through MiniLM-L6 in eager PyTorch costs ~6 ms on this 2-core machine, mostly per-operator
overhead and unfused kernels; the same graph exported to ONNX and run by ONNX Runtime (graph optimisations on)
takes ~2-3 ms with outputs equal to 1e-5. Scoring 20 (query, track) pairs with the MiniLM cross-encoder takes
~170 ms in PyTorch, ~105 ms in ONNX Runtime and ~50 ms with int8 dynamic quantisation of its linear layers
(one thread each). The export is written once per set of weights into a cache folder: the cache key hashes the
parameters themselves, so retrained weights under the same name are exported afresh.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)
OUTPUTS = ("hidden", "logits")
BACKENDS = ("torch", "onnx", "onnx-int8")


class _Wrapped(torch.nn.Module):
    def __init__(self, model: torch.nn.Module, output: str, types: bool) -> None:
        super().__init__()
        self.model, self.output, self.types = model, output, types

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        extra = {"token_type_ids": token_type_ids} if self.types else {}
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, **extra)
        return out.last_hidden_state if self.output == "hidden" else out.logits


def weights_fingerprint(model: torch.nn.Module) -> str:
    """A short hash of every parameter and buffer (names, shapes, values): names an export of these weights."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


class OnnxBackbone:
    """A Hugging Face encoder's ``last_hidden_state`` or classifier ``logits``, computed by ONNX Runtime on CPU.

    Parameters
    ----------
    model : torch.nn.Module
        The (CPU, eval-mode) model to export: a bare encoder for ``output="hidden"``, a sequence classifier for
        ``output="logits"``.
    model_id : str
        Names the export in the cache (with the weights' fingerprint, the output and the quantisation).
    cache_dir : str
        Folder of exported graphs.
    threads : int
        ONNX Runtime intra-op threads (default: torch's thread count).
    output : {"hidden", "logits"}
    quantize : bool
        Run an int8 copy of the graph (ONNX Runtime dynamic quantisation: int8 weights of the linear layers,
        activations quantised per call). Faster on CPU at a small cost in fidelity; measure it on your task.
    token_types : bool or None
        Feed ``token_type_ids`` (default: when the model's config has ``type_vocab_size`` > 1, as BERT's does).

    Raises
    ------
    ImportError
        When ``onnxruntime`` / ``onnxscript`` are missing (``pip install ltrr[onnx]``).
    ValueError
        On an unknown ``output``.
    """

    def __init__(self, model: torch.nn.Module, model_id: str, cache_dir: str = ".cache/ltrr/onnx",
                 threads: int | None = None, output: str = "hidden", quantize: bool = False,
                 token_types: bool | None = None) -> None:
        import onnxruntime  # noqa: F401  (fail early, before any export, with a clear ImportError)

        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        if token_types is None:
            token_types = int(getattr(getattr(model, "config", None), "type_vocab_size", 0) or 0) > 1
        self.output, self.token_types = output, bool(token_types)
        key = hashlib.sha256(f"{model_id}|{weights_fingerprint(model)}|{output}|types{self.token_types}|"
                             f"torch{torch.__version__}".encode()).hexdigest()[:16]
        path = Path(cache_dir) / f"{key}.onnx"
        if not path.exists():
            self._export(model, path)
        if quantize:
            path = self._quantize(path)
        self.path = path
        self.set_threads(threads)
        log.info("%s: ONNX Runtime on CPU%s (%s)", model_id, ", int8" if quantize else "", path)

    def set_threads(self, threads: int | None = None) -> None:
        """(Re)open the session with ``threads`` intra-op threads (default: torch's thread count)."""
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads or torch.get_num_threads())
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])

    def _export(self, model: torch.nn.Module, path: Path) -> None:
        import onnxscript  # noqa: F401  (the exporter needs it; fail early with a clear ImportError)

        path.parent.mkdir(parents=True, exist_ok=True)
        ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]])
        inputs = (ids, (ids > 0).long()) + ((torch.zeros_like(ids),) if self.token_types else ())
        names = ["input_ids", "attention_mask"] + (["token_type_ids"] if self.token_types else [])
        batch, length = torch.export.Dim("batch", min=1, max=4096), torch.export.Dim("length", min=2, max=4096)
        dims = tuple({0: batch, 1: length} for _ in inputs)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        log.info("exporting %s to ONNX (once per set of weights): %s", type(model).__name__, path)
        torch.onnx.export(_Wrapped(model, self.output, self.token_types).eval(), inputs, str(tmp),
                          input_names=names, output_names=[self.output], external_data=False, dynamic_shapes=dims)
        os.replace(tmp, path)

    @staticmethod
    def _quantize(path: Path) -> Path:
        """The int8 copy of ``path`` (made once, next to it)."""
        out = path.with_suffix(".int8.onnx")
        if not out.exists():
            from onnxruntime.quantization import QuantType, quantize_dynamic

            tmp = path.with_suffix(f".int8.tmp{os.getpid()}")
            log.info("quantising %s to int8 (dynamic)", path.name)
            root = logging.getLogger()
            level, root.level = root.level, logging.ERROR  # the quantiser logs every skipped node to the root logger
            try:
                quantize_dynamic(str(path), str(tmp), weight_type=QuantType.QInt8)
            finally:
                root.setLevel(level)
            os.replace(tmp, out)
        return out

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                 token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """The exported output for token ids and mask of shape ``(B, L)``.

        Returns
        -------
        torch.Tensor
            ``(B, L, dim)`` hidden states, or ``(B, n_labels)`` logits.
        """
        feed = {"input_ids": input_ids.numpy().astype(np.int64),
                "attention_mask": attention_mask.numpy().astype(np.int64)}
        if self.token_types:
            types = torch.zeros_like(input_ids) if token_type_ids is None else token_type_ids
            feed["token_type_ids"] = types.numpy().astype(np.int64)
        return torch.from_numpy(self.session.run(None, feed)[0])


def check_backend(backend: str) -> str:
    """``backend`` if it is one of :data:`BACKENDS`, else a ``ValueError`` naming them."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return backend


def onnx_or_none(model: torch.nn.Module, model_id: str, backend: str, device: torch.device, cache_dir: str,
                 output: str = "hidden") -> OnnxBackbone | None:
    """The ONNX Runtime runner an encoder's ``backend`` asks for, or ``None`` to run in PyTorch.

    ``torch`` gives ``None``; ``onnx`` / ``onnx-int8`` give an :class:`OnnxBackbone` (int8: quantised) when the model
    is on the CPU and ONNX Runtime imports, else ``None`` with a warning saying why.
    """
    if check_backend(backend) == "torch":
        return None
    if device.type != "cpu":
        log.warning("%s: the ONNX backends are CPU-only; running PyTorch on %s", model_id, device)
        return None
    try:
        return OnnxBackbone(model.eval(), model_id, cache_dir, output=output, quantize=backend == "onnx-int8")
    except ImportError as exc:
        log.warning("%s: ONNX backend unavailable (%s); running PyTorch", model_id, exc)
        return None
