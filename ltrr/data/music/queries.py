"""Query generator for the music world: every query knows its intent and its target(s).

Intents (each favours different retrieval arms):

- ``exact``: a track/album/playlist title, sometimes with the artist, often misspelt ("tayler love").
- ``artist``: an artist's name, sometimes misspelt.
- ``topic``: two facets among genre / mood / activity in words that differ from the catalogue's
  ("mellow homework music"); targets are the playlists carrying both facets.
- ``ambiguous``: one frequent title word ("love"); the user wants a popular track with it.
- ``entity_type``: "<topic> podcast" or "<artist> albums".
- ``new_release``: "new <artist>" or "new <genre> releases"; targets are items added in the last 30 days.
- ``repeat``: the user re-issues one of their own earlier queries (same text, same targets).
- ``personal``: a request that names no item ("play something", "music for me"); the targets are the tracks the user
  would play next, each a re-listen from their history (share ``relisten``) or a track drawn from their taste like
  the history itself (genre taste times popularity). Only taste tells them apart, so only a personalised arm finds
  them. Off in :data:`DEFAULT_MIX` (the default stream has none); ``personal_share`` or a ``personal`` weight in
  ``mix`` turns it on.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ltrr.data.music import vocab as V
from ltrr.data.music.typos import misspell
from ltrr.data.music.world import FRESH_DAYS, MusicWorld
from ltrr.types import Doc, Query
from ltrr.utils.seed import make_rng
from ltrr.utils.text import tokens

INTENTS = ("exact", "artist", "topic", "ambiguous", "entity_type", "new_release", "repeat", "personal")
DEFAULT_MIX = {"exact": 0.28, "artist": 0.12, "topic": 0.16, "ambiguous": 0.1, "entity_type": 0.1,
               "new_release": 0.09, "repeat": 0.15}


@dataclass(frozen=True)
class SimQuery:
    """A generated query with its ground truth.

    Attributes
    ----------
    query : Query
    targets : dict[str, int]
        Relevant entity ids and their grades (>= 1).
    intent : str
        One of :data:`INTENTS`.
    """

    query: Query
    targets: dict[str, int]
    intent: str


class QueryGenerator:
    """Draws users and intents and writes the query text a person with that need would type.

    Parameters
    ----------
    world : MusicWorld
    seed : int
        Seed of this stream (independent of the world's seed).
    mix : dict[str, float], optional
        Intent weights; defaults to :data:`DEFAULT_MIX`. Unknown intents are an error.
    typo_rate : float
        Probability that a name-like query is misspelt.
    personal_share : float
        Share of ``personal`` queries, the mix's other weights scaled by ``1 - personal_share`` (0: the mix as given).
    personal_targets : int
        Tracks drawn as the targets of a ``personal`` query (duplicates merged).
    relisten : float
        Probability that each of them is a re-listen from the user's history (users without history: none).
    """

    def __init__(self, world: MusicWorld, seed: int = 0, mix: dict[str, float] | None = None,
                 typo_rate: float = 0.35, personal_share: float = 0.0, personal_targets: int = 10,
                 relisten: float = 0.5) -> None:
        mix = dict(DEFAULT_MIX if mix is None else mix)
        unknown = set(mix) - set(INTENTS)
        if unknown:
            raise ValueError(f"unknown intent(s) {sorted(unknown)} in mix; choose from {INTENTS}")
        for name, v in (("typo_rate", typo_rate), ("personal_share", personal_share), ("relisten", relisten)):
            if not 0 <= v <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {v}")
        if personal_targets < 1:
            raise ValueError(f"personal_targets must be >= 1, got {personal_targets}")
        if personal_share > 0:  # without it the intent list, hence the stream, is exactly the mix's
            total = sum(mix.values())
            mix = {k: v * (1 - personal_share) / total for k, v in mix.items() if k != "personal"}
            mix["personal"] = personal_share
        self.world, self.typo_rate, self.rng = world, typo_rate, make_rng(seed, "queries")
        self.personal_targets, self.relisten = int(personal_targets), float(relisten)
        self.intents = list(mix)
        p = np.array([mix[i] for i in self.intents], dtype=float)
        self.intent_p = p / p.sum()
        self.user_p = np.array([u.activity for u in world.users])
        self.user_p /= self.user_p.sum()
        self.past: dict[str, list[SimQuery]] = defaultdict(list)
        self.t = 0
        self._index(world)

    def _index(self, world: MusicWorld) -> None:
        self.tracks = world.of_type("track")
        self.artists = world.of_type("artist")
        self.exact_pool = self.tracks + world.of_type("album") + world.of_type("playlist")
        gi = {g: i for i, g in enumerate(V.GENRES)}
        self.exact_genre = np.array([gi.get(d.metadata.get("genre", ""), -1) for d in self.exact_pool])
        self.exact_pop = np.sqrt(np.array([d.metadata["popularity"] for d in self.exact_pool]) + 1)
        self.artist_genre = np.array([gi[d.metadata["genre"]] for d in self.artists])
        self.artist_pop = np.sqrt(np.array([d.metadata["popularity"] for d in self.artists]) + 1)
        self.by_word: dict[str, list[Doc]] = defaultdict(list)
        for d in self.tracks:
            for w in set(tokens(d.title)):
                self.by_word[w].append(d)
        self.head_words = [w for w in V.HEAD_WORDS if len(self.by_word[w]) >= 3]
        self.playlists = world.of_type("playlist")
        self.shows = defaultdict(list)
        for d in world.of_type("podcast"):
            self.shows[d.metadata["topic"]].append(d.id)
        self.albums_of = defaultdict(list)
        for d in world.of_type("album"):
            self.albums_of[d.metadata["artist_id"]].append(d.id)
        self.fresh = [d for d in self.tracks + world.of_type("album") if d.metadata["added_days_ago"] < FRESH_DAYS]
        self.track_genre = np.array([gi[d.metadata["genre"]] for d in self.tracks])
        self.track_pop = np.array([d.metadata["popularity"] for d in self.tracks]) + 1.0  # as the world's histories
        self.track_row = {d.id: i for i, d in enumerate(self.tracks)}

    def _typo(self, text: str) -> str:
        return misspell(text, self.rng) if self.rng.random() < self.typo_rate else text

    def _choose(self, items: list, weights: np.ndarray):
        return items[self.rng.choice(len(items), p=weights / weights.sum())]

    def _exact(self, user) -> tuple[str, dict[str, int]]:
        d = self._choose(self.exact_pool, (user.genre_taste[self.exact_genre] + 0.02) * self.exact_pop)
        text = d.title.lower()
        if d.metadata["type"] != "playlist" and self.rng.random() < 0.4:
            text = f"{text} {d.metadata['artist'].lower()}"
        return self._typo(text), {d.id: 2}

    def _artist(self, user) -> tuple[str, dict[str, int]]:
        d = self._choose(self.artists, (user.genre_taste[self.artist_genre] + 0.02) * self.artist_pop)
        return self._typo(d.title.lower()), {d.id: 2}

    def _topic(self, user) -> tuple[str, dict[str, int]]:
        p = self.playlists[self.rng.integers(len(self.playlists))]
        facets = [f for f in ("genre", "mood", "activity")]
        pair = [facets[i] for i in sorted(self.rng.choice(3, size=2, replace=False))]
        words = {"genre": p.metadata["genre"], "mood": self._syn(V.MOODS[p.metadata["mood"]]),
                 "activity": self._syn(V.ACTIVITIES[p.metadata["activity"]])}
        text = " ".join(words[f] for f in pair)
        text = f"{text} {self._syn(['music', 'songs', 'playlist', 'mix', 'tunes'])}"
        targets = {d.id: 2 for d in self.playlists if all(d.metadata[f] == p.metadata[f] for f in pair)}
        return text, targets

    def _syn(self, options: list[str]) -> str:
        return options[self.rng.integers(len(options))]

    def _ambiguous(self, user) -> tuple[str, dict[str, int]]:
        w = self.head_words[self.rng.integers(len(self.head_words))]
        cands = self.by_word[w]
        pop = np.array([d.metadata["popularity"] for d in cands]) + 1
        d = self._choose(cands, pop ** 3)
        return w, {d.id: 2}

    def _entity_type(self, user) -> tuple[str, dict[str, int]]:
        if self.rng.random() < 0.5:
            topic = list(self.shows)[self.rng.integers(len(self.shows))]
            return f"{self._syn(V.PODCAST_TOPICS[topic])} podcast", {s: 2 for s in self.shows[topic]}
        a = self._choose(self.artists, self.artist_pop)
        return f"{a.title.lower()} {self._syn(['albums', 'album', 'discography'])}", {
            b: 2 for b in self.albums_of[a.id]}

    def _new_release(self, user) -> tuple[str, dict[str, int]]:
        d = self.fresh[self.rng.integers(len(self.fresh))]
        if self.rng.random() < 0.6:
            text = self._syn(["new {}", "{} new release", "latest {}", "new music from {}"]).format(
                d.metadata["artist"].lower())
            targets = {x.id: 2 for x in self.fresh if x.metadata["artist"] == d.metadata["artist"]}
        else:
            text = self._syn(["new {} releases", "latest {} songs", "fresh {} tracks", "new {} music"]).format(
                d.metadata["genre"])
            targets = {x.id: 1 for x in self.fresh if x.metadata["genre"] == d.metadata["genre"]}
        return text, targets

    def _personal(self, user) -> tuple[str, dict[str, int]]:
        w = user.genre_taste[self.track_genre] * self.track_pop
        w[[self.track_row[t] for t in user.history if t in self.track_row]] = 0.0  # discoveries are new tracks
        targets = {}
        for _ in range(self.personal_targets):
            if user.history and self.rng.random() < self.relisten:
                targets[user.history[self.rng.integers(len(user.history))]] = 1
            else:
                targets[self.tracks[self.rng.choice(len(self.tracks), p=w / w.sum())].id] = 1
        return self._syn(V.PERSONAL_REQUESTS), targets

    def sample(self) -> SimQuery:
        """Draw the next query of the stream."""
        user = self.world.users[self.rng.choice(len(self.world.users), p=self.user_p)]
        intent = self.intents[self.rng.choice(len(self.intents), p=self.intent_p)]
        qid, hour = f"q{self.t:06d}", int(self.rng.integers(24))
        meta = {"hour": hour, "history_len": len(user.history) + len(self.past[user.id])}
        self.t += 1
        if intent == "repeat" and self.past[user.id]:
            prev = self.past[user.id][self.rng.integers(len(self.past[user.id]))]
            sq = SimQuery(Query(qid, prev.query.text, user.id, meta), prev.targets, "repeat")
        else:
            intent = "exact" if intent == "repeat" else intent
            text, targets = getattr(self, f"_{intent}")(user)
            sq = SimQuery(Query(qid, text, user.id, meta), targets, intent)
            if intent in ("exact", "artist", "new_release", "entity_type"):
                self.past[user.id].append(sq)
        return sq

    def generate(self, n: int) -> list[SimQuery]:
        """Draw ``n`` queries."""
        return [self.sample() for _ in range(n)]
