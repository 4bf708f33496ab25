"""Audio analysis: from an audio file to tags, vectors, moods, tempo, key and energy."""
