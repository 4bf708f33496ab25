"""The chat without an AI: plain-language requests answered from a labelled corpus.

    python bench/chat_quality.py CORPUS [--cache DIR] [--repeat 3]

CORPUS holds manifest.csv (`group`, `path`), as shared/corpus/build_dev_corpus.sh
writes.  Each file is analysed once by the real pipeline (default depth) and its
vector, tags, moods, tempo and energy cached in --cache (bench/clustering.py's
`track_analysis`; a cache filled by `bench/clustering.py quality` serves here
too).  The tracks go into a scratch PostgreSQL database as the local provider
names them (bench/feature_quality.py's `fill_database`), the index is built by
similarity.index.update(), and every request of REQUESTS is answered:

- by the deterministic reader and `execute`, timed apart (the reader's first
  call loads the bundled embedding: that load is reported once, then every
  request is read warm), --repeat times, the median kept;
- through POST /api/chat on the Flask app in this process (test client,
  bearer token; no HTTP server), --repeat times, the median kept.

Figures per request: P@10 = share of the first 10 songs from one of the
request's expected sources; chance = the share of the corpus in those sources
(what a random list scores on average); full = the answer holds as many songs
as the plan asked for.  Means over all requests and over each half; then the
mean probability per source of every tag the plans named, and the mood
scores: what the answers could be built from.

The requests were written, each with the sources that should answer it,
before any was run (from the sources' names, titles and genres, nothing
listened to), and split into two fixed halves: changes to the reader are made
looking at the tuning half only, so the held-out half shows whether they
generalise.  "like ..." requests name a song or an artist as the library
shows it (title, or file name when untagged); no other request names anything
of this corpus.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import analyse, library  # noqa: E402

WESNOTH, NEXUIZ, SUPERTUX = "wesnoth_orchestral", "nexuiz_electronic", "supertux_chiptune"
WARZONE, SINGULARITY, OPENMSX = "warzone_electronic", "singularity_ambient", "openmsx_gm_midi"
ELECTRONIC = (NEXUIZ, WARZONE)
TUNING, HELD_OUT = "tuning", "held-out"
TOP = 10


class Request(NamedTuple):
    half: str
    text: str
    expected: tuple[str, ...]


REQUESTS = [
    Request(TUNING, "orchestral battle music", (WESNOTH,)),
    Request(HELD_OUT, "8-bit chiptune", (SUPERTUX,)),
    Request(TUNING, "dark ambient", (SINGULARITY, WARZONE)),
    Request(HELD_OUT, "fast electronic for running", ELECTRONIC),
    Request(TUNING, "calm music without drums", (SINGULARITY, WESNOTH)),
    Request(HELD_OUT, "epic fantasy soundtrack", (WESNOTH,)),
    Request(TUNING, "retro video game tunes", (SUPERTUX, OPENMSX)),
    Request(HELD_OUT, "slow and sad", (WESNOTH, SINGULARITY)),
    Request(TUNING, "upbeat synth", (SUPERTUX, NEXUIZ, WARZONE)),
    Request(HELD_OUT, "techno around 130 bpm", ELECTRONIC),
    Request(TUNING, "slow orchestral pieces under 90 bpm", (WESNOTH,)),
    Request(HELD_OUT, "strings and choir, nothing electronic", (WESNOTH,)),
    Request(TUNING, "electronic music, no vocals, not ambient", ELECTRONIC),
    Request(HELD_OUT, "relaxing background music for studying", (SINGULARITY, WESNOTH)),
    Request(TUNING, "happy cheerful game music", (SUPERTUX, OPENMSX)),
    Request(HELD_OUT, "spacey atmospheric synth pads", (SINGULARITY, WARZONE)),
    Request(TUNING, "aggressive industrial electronic", (NEXUIZ,)),
    Request(HELD_OUT, "medieval adventure music with flutes and harps", (WESNOTH,)),
    Request(TUNING, "jazzy piano tunes", (OPENMSX,)),
    Request(HELD_OUT, "bouncy cartoon platformer music", (SUPERTUX,)),
    Request(TUNING, "mysterious sci-fi soundscape", (SINGULARITY, WARZONE)),
    Request(HELD_OUT, "heavy beats for the gym", ELECTRONIC),
    Request(TUNING, "gentle peaceful music to fall asleep to", (SINGULARITY, WESNOTH)),
    Request(HELD_OUT, "old-school midi music from the 90s", (OPENMSX,)),
    Request(TUNING, "80s synthwave", ELECTRONIC),
    Request(HELD_OUT, "dramatic cinematic music with brass", (WESNOTH,)),
    Request(TUNING, "light classical music, not too slow", (WESNOTH, OPENMSX)),
    Request(HELD_OUT, "fast and energetic, no orchestra", (NEXUIZ, WARZONE, SUPERTUX)),
    Request(TUNING, "quiet ambient drones, nothing with a beat", (SINGULARITY,)),
    Request(HELD_OUT, "catchy happy melodies for kids", (SUPERTUX,)),
    Request(TUNING, "marching music for an army", (WESNOTH,)),
    Request(HELD_OUT, "dance music around 120 bpm", ELECTRONIC),
    Request(TUNING, "melancholic music, nothing fast", (WESNOTH, SINGULARITY)),
    Request(HELD_OUT, "something to listen to while coding late at night", (SINGULARITY, WARZONE)),
    Request(TUNING, "something like Legends of the North", (WESNOTH,)),
    Request(HELD_OUT, "songs like Digital Pursuit, 15 songs", (NEXUIZ,)),
    Request(TUNING, "like Tropical Breeze but calmer", (SUPERTUX,)),
    Request(HELD_OUT, "music like Maxstack without vocals", (SINGULARITY,)),
    Request(TUNING, "tracks like track7, 10 songs", (WARZONE,)),
    Request(HELD_OUT, "more like city_blues_redfarn", (OPENMSX,)),
]


class Answer(NamedTuple):
    plan: str
    groups: list[str]      # the answer's sources, best first
    asked: int             # songs the plan asked for
    read_ms: float
    execute_ms: float
    post_ms: float


def _median_ms(call, repeat: int, before=lambda: None):
    """(the last result, the median wall time in ms) of `repeat` calls, each after `before()` (untimed)."""
    times = []
    for _ in range(repeat):
        before()
        started = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - started) * 1000)
    return result, statistics.median(times)


def answer_all(index, client, group_of: dict[str, str], repeat: int) -> list[Answer]:
    from similarity import plan as plans
    from similarity import request_reader
    answers = []
    for request in REQUESTS:
        # Each read starts with no word looked up yet, as a new request's words would.
        plan, read_ms = _median_ms(lambda: request_reader.read(request.text), repeat,
                                   before=request_reader.word_tag.cache_clear)
        result, execute_ms = _median_ms(lambda: plans.execute(plan, index), repeat)
        posted, post_ms = _median_ms(lambda: client.post("/api/chat", json={"message": request.text}), repeat)
        assert posted.status_code == 200, posted.json
        body = posted.json
        assert body["mode"] == "no-ai" and body["plan"] == plan.model_dump(mode="json"), request.text
        played = [t["item_id"] for t in body["answer"]["tracks"]]    # in playing order (similarity/craft.py)
        assert sorted(played) == sorted(t.item_id for t, _ in result.tracks)
        answers.append(Answer(plans.describe(plan), [group_of[item_id] for item_id in played], plan.size,
                              read_ms, execute_ms, post_ms))
    return answers


def precision(answer: Answer, request: Request) -> float:
    return float(np.mean([g in request.expected for g in answer.groups[:TOP]])) if answer.groups else 0.0


def report(answers: list[Answer], corpus_groups: list[str]) -> None:
    share = Counter(corpus_groups)
    short = {group: "".join(word[0] for word in group.split("_")) for group in share}   # wo, ne, ...
    print("\n| # | half | request | expected | plan read | top 10 by source | P@10 | chance | full |\n"
          "|---|---|---|---|---|---|---|---|---|")
    for number, (request, answer) in enumerate(zip(REQUESTS, answers), 1):
        chance = sum(share[g] for g in request.expected) / len(corpus_groups)
        top = ", ".join(f"{short[g]} {n}" for g, n in Counter(answer.groups[:TOP]).most_common())
        print(f"| {number} | {request.half} | {request.text} | {', '.join(short[g] for g in request.expected)} | "
              f"{answer.plan} | {top} | {precision(answer, request):.1f} | {chance:.2f} | "
              f"{'yes' if len(answer.groups) == answer.asked else f'{len(answer.groups)} of {answer.asked}'} |")
    print("\nsources: " + ", ".join(f"{short[g]} = {g} ({n})" for g, n in sorted(share.items())))
    print("\n| requests | count | mean P@10 | mean chance | full lists |\n|---|---|---|---|---|")
    for name in ("all", TUNING, HELD_OUT):
        chosen = [(r, a) for r, a in zip(REQUESTS, answers) if name in ("all", r.half)]
        chance = [sum(share[g] for g in r.expected) / len(corpus_groups) for r, _ in chosen]
        print(f"| {name} | {len(chosen)} | {np.mean([precision(a, r) for r, a in chosen]):.3f} | "
              f"{np.mean(chance):.3f} | {np.mean([len(a.groups) == a.asked for _, a in chosen]):.0%} |")
    print("\n| time per request (ms; each the median of its repeats) | p50 | p95 | max |\n|---|---|---|---|")
    for name, values in (("reader (`request_reader.read`)", [a.read_ms for a in answers]),
                         ("`execute`", [a.execute_ms for a in answers]),
                         ("reader + execute", [a.read_ms + a.execute_ms for a in answers]),
                         ("POST /api/chat (test client, in process)", [a.post_ms for a in answers])):
        print(f"| {name} | {np.percentile(values, 50):.1f} | {np.percentile(values, 95):.1f} | {max(values):.1f} |")


def tag_profile(analyses: list[dict], corpus_groups: list[str], tags: list[str]) -> None:
    """Mean probability per source of each tag the plans named, as a plan's tag condition reads it."""
    from analysis.labels import MSD_LABELS, MTT_LABELS
    from db.models import MOOD_COLUMNS

    def probability(analysis: dict, tag: str) -> float:   # the higher of its two vocabularies, as plan.py
        found = [analysis["msd"][MSD_LABELS.index(tag)]] if tag in MSD_LABELS else []
        found += [analysis["mtt"][MTT_LABELS.index(tag)]] if tag in MTT_LABELS else []
        return float(max(found))
    sources = sorted(set(corpus_groups))
    print("\nWhat the analysis gives each source (means): the tags the plans named, then the mood scores\n\n"
          "| tag or mood | " + " | ".join(sources) + " |\n|---|" + "---|" * len(sources))
    rows = [(f"tag '{tag}'", lambda a, tag=tag: probability(a, tag)) for tag in tags]
    rows += [(f"mood {mood}", lambda a, i=i: float(a["moods"][i])) for i, mood in enumerate(MOOD_COLUMNS)]
    for name, value in rows:
        means = [np.mean([value(a) for a, g in zip(analyses, corpus_groups) if g == source]) for source in sources]
        print(f"| {name} | " + " | ".join(f"{m:.2f}" for m in means) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--cache", type=Path, default=Path(".cache/quality"))
    parser.add_argument("--repeat", type=int, default=3, help="times each request is answered (median kept)")
    options = parser.parse_args()
    started = time.perf_counter()
    corpus = options.corpus.resolve()
    entries, analyses = analyse(corpus, options.cache)
    # the no-AI mode, whatever this shell's environment sets
    with library("sonarium_chat_quality", corpus, entries, analyses, AI_PROVIDER="none") as (_, index):
        from auth import accounts, tokens
        from app import create_app
        from similarity import request_reader
        group_of = {str(file.relative_to(corpus)): group for group, file in entries}
        client = create_app().test_client()
        person = accounts.create("bench", "a password of twenty", "admin")
        client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + tokens.create(person.id, "bench")[1]
        loading = time.perf_counter()
        request_reader.tag_embedding()
        print(f"{index.size} tracks in {len(set(group_of.values()))} sources; {len(REQUESTS)} requests, each "
              f"answered {options.repeat} times; the bundled embedding loaded in "
              f"{time.perf_counter() - loading:.2f} s (once per process); load average {os.getloadavg()[0]:.2f}")
        answers = answer_all(index, client, group_of, options.repeat)
        report(answers, [group for group, _ in entries])
        named = [t for request in REQUESTS for t in request_reader.read(request.text).include_tags]
        tag_profile(analyses, [group for group, _ in entries], list(dict.fromkeys(named)))
    print(f"\nrun time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
