"""Track similarity: the Voyager index (`similarity.index`) and its live copy in the web process."""
