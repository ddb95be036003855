"""Catalogue and users of the synthetic music world, generated from a seed.

The catalogue holds artists, albums, tracks, playlists, podcast shows and episodes. Every entity is a
:class:`~ltrr.types.Doc` whose metadata carries ``type``, ``genre``, ``mood``, ``activity``, ``topic``,
``language``, ``year``, ``popularity`` (0-100, heavy tailed) and ``added_days_ago`` (freshness).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ltrr.data.music import vocab as V
from ltrr.types import Doc
from ltrr.utils.seed import make_rng

log = logging.getLogger(__name__)
CURRENT_YEAR = 2026
FRESH_DAYS = 30


@dataclass
class User:
    """A simulated listener.

    Attributes
    ----------
    id : str
    genre_taste : numpy.ndarray
        Preference over :data:`vocab.GENRES`, shape ``(n_genres,)``, sums to one.
    activity : float
        Relative search frequency (heavy tailed).
    history : list[str]
        Ids of tracks listened to before the simulation starts.
    """

    id: str
    genre_taste: np.ndarray
    activity: float
    history: list[str] = field(default_factory=list)


@dataclass
class MusicWorld:
    """The generated catalogue and users, with lookup tables used by the query generator."""

    docs: list[Doc]
    users: list[User]
    seed: int
    by_id: dict[str, Doc] = field(init=False)

    def __post_init__(self) -> None:
        self.by_id = {d.id: d for d in self.docs}

    def of_type(self, kind: str) -> list[Doc]:
        """All entities whose metadata ``type`` equals ``kind``."""
        return [d for d in self.docs if d.metadata["type"] == kind]


def _popularity(rng: np.random.Generator, n: int) -> np.ndarray:
    """Heavy-tailed popularity on 0-100: log of a Pareto draw, rescaled."""
    raw = np.log1p(rng.pareto(1.1, size=n) * 10)
    return np.round(100 * raw / raw.max(), 1)


def _added(rng: np.random.Generator, n: int, fresh_share: float) -> np.ndarray:
    fresh = rng.random(n) < fresh_share
    return np.where(fresh, rng.integers(0, FRESH_DAYS, n), rng.integers(FRESH_DAYS, 3650, n))


def _title(rng: np.random.Generator) -> str:
    n = int(rng.choice([1, 2, 2, 3]))
    pool = V.HEAD_WORDS if rng.random() < 0.25 else V.TITLE_WORDS
    words = [pool[rng.integers(len(pool))]] + [V.TITLE_WORDS[rng.integers(len(V.TITLE_WORDS))] for _ in range(n - 1)]
    rng.shuffle(words)
    return " ".join(dict.fromkeys(words)).title()


def _artist_name(rng: np.random.Generator) -> str:
    if rng.random() < 0.65:
        return f"{V.FIRST_NAMES[rng.integers(len(V.FIRST_NAMES))]} {V.LAST_NAMES[rng.integers(len(V.LAST_NAMES))]}".title()
    adj, noun = V.BAND_ADJECTIVES[rng.integers(len(V.BAND_ADJECTIVES))], V.BAND_NOUNS[rng.integers(len(V.BAND_NOUNS))]
    return f"the {adj} {noun}".title()


def _pick(rng: np.random.Generator, items: list[str]) -> str:
    return items[rng.integers(len(items))]


def _music(rng: np.random.Generator, n_artists: int, fresh_share: float) -> list[Doc]:
    docs: list[Doc] = []
    names = list(dict.fromkeys(_artist_name(rng) for _ in range(n_artists * 2)))[:n_artists]
    art_pop = _popularity(rng, len(names))
    moods = list(V.MOODS)
    for a, (name, apop) in enumerate(zip(names, art_pop)):
        genre, lang = _pick(rng, V.GENRES), _pick(rng, V.LANGUAGES)
        aid = f"art_{a:04d}"
        docs.append(Doc(aid, name, f"artist. {genre} music", {"type": "artist", "genre": genre, "language": lang,
                                                              "popularity": float(apop), "artist": name,
                                                              "added_days_ago": 3650, "year": CURRENT_YEAR}))
        for b in range(int(rng.integers(1, 5))):
            album, bid = _title(rng), f"alb_{a:04d}_{b}"
            added = int(_added(rng, 1, fresh_share)[0])
            year = CURRENT_YEAR if added < FRESH_DAYS else int(CURRENT_YEAR - 1 - min(added // 120, 40))
            pops = np.clip(apop * rng.uniform(0.3, 1.1, size=int(rng.integers(3, 8))), 0, 100).round(1)
            meta = {"genre": genre, "language": lang, "artist": name, "artist_id": aid, "year": year,
                    "added_days_ago": added}
            docs.append(Doc(bid, album, f"album by {name}. {genre} {year}",
                            {**meta, "type": "album", "popularity": float(pops.max())}))
            for t, pop in enumerate(pops):
                mood = _pick(rng, moods)
                docs.append(Doc(f"trk_{a:04d}_{b}_{t}", _title(rng), f"by {name}. {album}. {genre}",
                                {**meta, "type": "track", "album_id": bid, "mood": mood, "popularity": float(pop)}))
    return docs


def _playlists(rng: np.random.Generator, n: int) -> list[Doc]:
    docs = []
    pops = _popularity(rng, n)
    for i in range(n):
        genre, mood, act = _pick(rng, V.GENRES), _pick(rng, list(V.MOODS)), _pick(rng, list(V.ACTIVITIES))
        m_syn, a_syn = V.MOODS[mood], V.ACTIVITIES[act]
        title = f"{_pick(rng, m_syn)} {_pick(rng, a_syn)}".title()
        text = f"playlist. {genre} for {_pick(rng, a_syn)}, {_pick(rng, m_syn)} vibes"
        docs.append(Doc(f"pl_{i:04d}", title, text, {"type": "playlist", "genre": genre, "mood": mood,
                                                      "activity": act, "popularity": float(pops[i]),
                                                      "added_days_ago": int(rng.integers(0, 1000)),
                                                      "year": CURRENT_YEAR, "language": "en"}))
    return docs


def _podcasts(rng: np.random.Generator, n_shows: int, fresh_share: float) -> list[Doc]:
    docs = []
    pops = _popularity(rng, n_shows)
    for s in range(n_shows):
        topic = _pick(rng, list(V.PODCAST_TOPICS))
        syns = V.PODCAST_TOPICS[topic]
        word = _pick(rng, V.TITLE_WORDS) if rng.random() < 0.5 else _pick(rng, syns).split()[0]
        title = _pick(rng, V.SHOW_PATTERNS).format(w=word).title()
        host = f"{_pick(rng, V.FIRST_NAMES)} {_pick(rng, V.LAST_NAMES)}".title()
        sid = f"pod_{s:03d}"
        meta = {"topic": topic, "language": _pick(rng, V.LANGUAGES), "year": CURRENT_YEAR}
        docs.append(Doc(sid, title, f"podcast about {_pick(rng, syns)}, hosted by {host}",
                        {**meta, "type": "podcast", "popularity": float(pops[s]), "added_days_ago": 900}))
        for e, added in enumerate(sorted(_added(rng, int(rng.integers(3, 8)), fresh_share * 3))):
            docs.append(Doc(f"ep_{s:03d}_{e}", f"{_title(rng)}", f"podcast episode of {title}. {_pick(rng, syns)}",
                            {**meta, "type": "episode", "show_id": sid, "added_days_ago": int(added),
                             "popularity": float(round(pops[s] * rng.uniform(0.2, 0.9), 1))}))
    return docs


def _users(rng: np.random.Generator, n: int, tracks: list[Doc], history_len: int | Sequence[int] = 30) -> list[User]:
    genre_idx = {g: i for i, g in enumerate(V.GENRES)}
    tgenre = np.array([genre_idx[d.metadata["genre"]] for d in tracks])
    tpop = np.array([d.metadata["popularity"] for d in tracks]) + 1.0
    users = []
    for u in range(n):
        taste = rng.dirichlet(np.full(len(V.GENRES), 0.3))
        w = taste[tgenre] * tpop
        if isinstance(history_len, (int, np.integer)):
            size = int(history_len)
        else:  # a [low, high] range: each user's length drawn uniformly (extra draws only in this case)
            lo, hi = (int(v) for v in history_len)
            size = int(rng.integers(lo, hi + 1))
        hist = rng.choice(len(tracks), size=min(size, len(tracks)), replace=False, p=w / w.sum())
        users.append(User(f"u_{u:04d}", taste, float(rng.pareto(1.5) + 1), [tracks[i].id for i in hist]))
    return users


def build_world(seed: int = 0, n_artists: int = 300, n_playlists: int = 200, n_podcasts: int = 50,
                n_users: int = 500, fresh_share: float = 0.05, history_len: int | Sequence[int] = 30) -> MusicWorld:
    """Generate the music world.

    Parameters
    ----------
    seed : int
        The world's seed: same seed, same world.
    n_artists : int
        Artists; each gets 1-4 albums of 3-7 tracks.
    n_playlists, n_podcasts, n_users : int
        Counts of playlists, podcast shows (3-7 episodes each) and users.
    fresh_share : float
        Share of albums added in the last 30 days (new releases).
    history_len : int or [low, high]
        Tracks in each user's listening history before the simulation: a fixed count, or a range from which each
        user's count is drawn uniformly (users with long and short histories, e.g. ``[0, 60]``).

    Returns
    -------
    MusicWorld
    """
    rng = make_rng(seed, "world")
    docs = _music(rng, n_artists, fresh_share) + _playlists(rng, n_playlists) + _podcasts(rng, n_podcasts, fresh_share)
    tracks = [d for d in docs if d.metadata["type"] == "track"]
    if not isinstance(history_len, (int, np.integer)) and (len(history_len) != 2 or not
                                                           0 <= int(history_len[0]) <= int(history_len[1])):
        raise ValueError(f"history_len must be a count or a range [low, high] with 0 <= low <= high, got {history_len}")
    world = MusicWorld(docs=docs, users=_users(rng, n_users, tracks, history_len), seed=seed)
    log.info("music world (seed %d): %d entities (%d tracks), %d users", seed, len(docs), len(tracks), n_users)
    return world
