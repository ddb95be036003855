"""General-purpose word lists for slots that catalogue names cannot supply (moods, activities, eras, types, requests
for the listener's own taste).

These are English words, not per-query rules: each mood or activity names a canonical value (matched against a
catalogue's ``mood`` / ``activity`` metadata when it has them) and, where the meaning is clear, a range of
Spotify audio features (``valence``, ``energy``, ``danceability``, ``tempo``, ...; see the Spotify Web API
reference for their definitions) used when the catalogue only has audio features.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Facet:
    """A mood or activity.

    Parameters
    ----------
    slot : {"mood", "activity"}
    value : str
        Canonical value (compared with catalogue metadata of the same slot name).
    words : tuple[str, ...]
        Phrases that express it in a query.
    ranges : dict[str, tuple[float | None, float | None]]
        Audio-feature ranges ``(lo, hi)`` that items of this facet tend to fall in.
    """

    slot: str
    value: str
    words: tuple[str, ...]
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)


FACETS = (
    Facet("mood", "happy", ("happy", "upbeat", "feel good", "sunny", "joyful", "cheerful", "good vibes"),
          {"valence": (0.6, None)}),
    Facet("mood", "sad", ("sad", "melancholy", "heartbreak", "heartbroken", "tearjerker", "gloomy", "crying"),
          {"valence": (None, 0.35)}),
    Facet("mood", "chill", ("chill", "relaxing", "relax", "mellow", "calm", "laid back", "soothing", "lofi", "lo fi"),
          {"energy": (None, 0.5)}),
    Facet("mood", "energetic", ("energetic", "hype", "pumped", "high energy", "intense", "adrenaline", "energy"),
          {"energy": (0.75, None)}),
    Facet("mood", "romantic", ("romantic", "love songs", "date night", "sensual", "tender"), {}),
    Facet("mood", "dark", ("dark", "moody", "brooding", "haunting", "eerie"), {"valence": (None, 0.3)}),
    Facet("mood", "nostalgic", ("nostalgic", "throwback", "retro", "old school", "classic hits", "oldies"), {}),
    Facet("mood", "acoustic", ("acoustic", "unplugged"), {"acousticness": (0.6, None)}),
    Facet("mood", "instrumental", ("instrumental", "no vocals"), {"instrumentalness": (0.5, None)}),
    Facet("activity", "workout", ("workout", "gym", "running", "training", "cardio", "lifting", "fitness"),
          {"energy": (0.7, None), "tempo": (115.0, None)}),
    Facet("activity", "study", ("study", "focus", "concentration", "homework", "reading", "deep work"),
          {"energy": (None, 0.55), "speechiness": (None, 0.1)}),
    Facet("activity", "sleep", ("sleep", "bedtime", "lullaby", "night time", "falling asleep"),
          {"energy": (None, 0.35)}),
    Facet("activity", "party", ("party", "dance party", "club", "pregame", "celebration", "dance", "dancing"),
          {"danceability": (0.7, None)}),
    Facet("activity", "commute", ("commute", "driving", "road trip", "travel", "on the go"), {}),
    Facet("activity", "cooking", ("cooking", "dinner", "kitchen", "brunch", "dining"), {}),
)

ENTITY_TYPES = {
    "track": ("song", "songs", "track", "tracks", "single"),
    "artist": ("artist", "artists", "band", "singer"),
    "album": ("album", "albums", "discography", "lp", "ep"),
    "playlist": ("playlist", "playlists", "mix"),
    "podcast": ("podcast", "podcasts", "show"),
    "episode": ("episode", "episodes"),
}
NEW_WORDS = ("new", "latest", "fresh", "recent", "newest", "release", "releases", "this week", "just released")
DECADE_WORDS = {"fifties": 1950, "sixties": 1960, "seventies": 1970, "eighties": 1980, "nineties": 1990,
                "noughties": 2000}
# Requests that name no item but the listener's taste ("play something for me"): only a personalised source can
# answer them. Phrases of two words or more, or single words that are requests on their own.
PERSONAL_WORDS = ("for me", "for myself", "my music", "my songs", "my kind of", "my taste", "my style",
                  "my favorites", "my favourites", "my playlist", "my mix", "i like", "i love", "i would like",
                  "i'd like", "i might like", "i want to hear", "should i listen", "should i play", "play something",
                  "play anything", "play some music", "put something on", "something new for me", "recommend",
                  "recommend me", "recommendation", "recommendations", "suggest", "suggestions", "surprise me",
                  "just play", "made for me", "based on my")
