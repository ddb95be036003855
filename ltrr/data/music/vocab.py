"""Word lists for the synthetic music world (no download; edit freely)."""

GENRES = [
    "pop", "rock", "hip hop", "jazz", "classical", "electronic", "country", "r&b", "metal", "folk",
    "reggae", "latin", "indie", "blues", "soul",
]

# Each facet value has synonyms: catalogue text uses some, queries use others, so exact word match is not enough.
MOODS = {
    "happy": ["happy", "upbeat", "feel good", "sunny", "joyful", "cheerful"],
    "sad": ["sad", "melancholy", "heartbreak", "tearjerker", "blue", "gloomy"],
    "chill": ["chill", "relaxing", "mellow", "calm", "laid back", "soothing"],
    "energetic": ["energetic", "hype", "pumped", "high energy", "intense", "adrenaline"],
    "romantic": ["romantic", "love songs", "date night", "sensual", "tender"],
    "dark": ["dark", "moody", "brooding", "haunting", "eerie"],
    "nostalgic": ["nostalgic", "throwback", "retro", "old school", "classic hits"],
}

ACTIVITIES = {
    "workout": ["workout", "gym", "running", "training", "cardio", "lifting"],
    "study": ["study", "focus", "concentration", "homework", "reading", "deep work"],
    "sleep": ["sleep", "bedtime", "lullaby", "night time", "falling asleep"],
    "party": ["party", "dance party", "club", "pregame", "celebration"],
    "commute": ["commute", "driving", "road trip", "travel", "on the go"],
    "cooking": ["cooking", "dinner", "kitchen", "brunch", "dining"],
}

PODCAST_TOPICS = {
    "true crime": ["true crime", "murder mystery", "unsolved cases", "crime stories"],
    "comedy": ["comedy", "funny", "humor", "stand up"],
    "history": ["history", "historical", "ancient world", "past events"],
    "technology": ["technology", "tech", "gadgets", "software"],
    "science": ["science", "physics", "biology", "space"],
    "sports": ["sports", "football", "basketball", "athletes"],
    "news": ["news", "current events", "daily briefing", "politics"],
    "business": ["business", "startups", "entrepreneurs", "money"],
    "health": ["health", "wellness", "fitness", "mental health"],
    "film": ["film", "movies", "cinema", "reviews"],
}

TITLE_WORDS = [
    "love", "night", "heart", "fire", "dream", "summer", "rain", "baby", "home", "light", "gold", "blue",
    "wild", "midnight", "city", "river", "stars", "moon", "sun", "ocean", "dance", "fever", "shadow",
    "echo", "paradise", "highway", "storm", "angel", "diamond", "thunder", "velvet", "neon", "golden",
    "silver", "broken", "forever", "tonight", "yesterday", "tomorrow", "magic", "sweet", "crazy", "lonely",
    "electric", "burning", "falling", "running", "waiting", "dancing", "crying", "flying", "lost", "young",
    "free", "alive", "stranger", "lover", "memories", "secrets", "wonder", "glory", "rebel", "desert",
    "island", "garden", "mirror", "window", "letter", "promise", "story", "song", "road", "train", "paper",
    "sugar", "honey", "cherry", "rose", "winter", "autumn", "spring", "morning", "evening", "sky", "wave",
    "bloom", "ghost", "kingdom", "empire", "crown", "heaven", "sunset", "sunrise", "horizon", "lights",
    "nights", "hearts", "girl", "boy", "kiss", "tears", "smile", "blood", "bones", "skin", "soul", "mind",
]
# Words that appear far more often in titles (the "love" of an ambiguous one-word query).
HEAD_WORDS = ["love", "night", "heart", "baby", "fire", "dream", "summer", "home", "light", "rain"]

# Requests that name no item: only the user's taste says what they want (the ``personal`` intent).
PERSONAL_REQUESTS = ["play something", "play some music", "music for me", "songs for me", "my kind of music",
                     "something i would like", "recommend me songs", "what should i listen to", "surprise me",
                     "play my music"]

FIRST_NAMES = [
    "taylor", "olivia", "marcus", "luna", "diego", "ava", "kai", "nina", "leo", "maya", "isaac", "zara",
    "felix", "iris", "omar", "chloe", "jonah", "priya", "mateo", "lena", "ezra", "sofia", "miles", "aria",
    "hugo", "stella", "rafael", "june", "caleb", "noor", "elliot", "yara", "theo", "celeste", "dante",
    "freya", "malik", "ingrid", "ruben", "selena",
]
LAST_NAMES = [
    "swift", "rivera", "stone", "knight", "hayes", "moreno", "blake", "castillo", "frost", "wilder",
    "lambert", "okafor", "nakamura", "bishop", "delgado", "sinclair", "vance", "marlowe", "quinn", "reyes",
    "holloway", "fontaine", "mercer", "santos", "whitaker", "kowalski", "adeyemi", "larsen", "bellamy",
    "carver", "devereaux", "ashford", "monroe", "valdez", "harlow", "petrov", "lindqvist", "ferreira",
]
BAND_NOUNS = [
    "wolves", "echoes", "strangers", "pilots", "machines", "ravens", "lanterns", "giants", "tides",
    "kites", "mirrors", "foxes", "comets", "sparrows", "engines", "saints", "outlaws", "dreamers",
]
BAND_ADJECTIVES = ["electric", "midnight", "velvet", "silver", "neon", "wild", "lonely", "golden", "crimson"]

SHOW_PATTERNS = ["the {w} hour", "{w} files", "inside {w}", "{w} weekly", "the {w} show", "{w} unpacked"]
LANGUAGES = ["en", "en", "en", "en", "es", "pt", "fr", "de", "ko", "ja"]
