"""The embedded synthetic music world: catalogue, users and a query generator, all from one seed."""

from ltrr.data.music.queries import INTENTS, QueryGenerator, SimQuery
from ltrr.data.music.world import MusicWorld, User, build_world

__all__ = ["INTENTS", "MusicWorld", "QueryGenerator", "SimQuery", "User", "build_world"]
