"""The seed's own pattern: multiprocessing.Pool.imap_unordered over csv.DictReader,
with the classifier in a global that fork copies into the workers. The Pool and
the classifier are made anew for every run, as in the seed's code.

usage: python3 seed_pattern.py <trivial|lexicon> <lexicon.tsv> <data> <csv|tsv|ndjson> <chunksize> <workers>

After one warm-up run it prints a ready line; then for each line read on stdin it
times one run and prints {"records": n, "seconds": s} (the bench's ChildRunner protocol).
"""
import csv
import json
import multiprocessing as mp
import sys
import time

classifier = None


class Lexicon:
    def __init__(self, path):
        self.lexicon = {}
        with open(path) as f:
            for line in f:
                word, weight = line.rstrip("\n").split("\t")
                self.lexicon[word] = float(weight)

    def classify(self, row):
        get = self.lexicon.get
        score = 0.0
        for w in row["text"].split(" "):
            score += get(w, 0.0)
        return {"id": row["id"], "score": round(score, 2)}


class Trivial:
    def __init__(self, _path):
        pass

    def classify(self, row):
        return row["id"]


def classify_row(row):
    return classifier.classify(row)


def records(fp, fmt):
    if fmt == "ndjson":
        return (json.loads(line) for line in fp if line.strip())
    return csv.DictReader(fp, delimiter="\t" if fmt == "tsv" else ",")


def run(kind, spec, data_file, fmt, chunksize, workers):
    global classifier
    try:
        classifier = (Lexicon if kind == "lexicon" else Trivial)(spec)
        with open(data_file, "rt", newline="") as fp, mp.Pool(workers) as pool:
            n = 0
            for _ in pool.imap_unordered(classify_row, records(fp, fmt), chunksize):
                n += 1
            return n
    finally:
        classifier = None


if __name__ == "__main__":
    mp.set_start_method("fork")
    kind, spec, data, fmt, chunksize, workers = sys.argv[1:7]
    args = (kind, spec, data, fmt, int(chunksize), int(workers))
    run(*args)
    print(json.dumps({"ready": True}), flush=True)
    for _ in sys.stdin:
        started = time.perf_counter()
        n = run(*args)
        print(json.dumps({"records": n, "seconds": time.perf_counter() - started}), flush=True)
