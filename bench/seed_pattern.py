"""The seed's own pattern: multiprocessing.Pool.imap_unordered over csv.DictReader,
with the classifier in a global that fork copies into the workers.

usage: python3 seed_pattern.py <lexicon.tsv> <data.csv> <chunksize> <workers> <repeats>
prints one JSON line: {"records": n, "best_seconds": s}
"""
import csv
import json
import multiprocessing as mp
import sys
import time

classifier = None


class Classifier:
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


def classify_row(row):
    return classifier.classify(row)


def run(spec, data_file, chunksize, workers):
    global classifier
    try:
        classifier = Classifier(spec)
        with open(data_file, "rt", newline="") as fp, mp.Pool(workers) as pool:
            rd = csv.DictReader(fp)
            n = 0
            for _ in pool.imap_unordered(classify_row, rd, chunksize):
                n += 1
            return n
    finally:
        classifier = None


if __name__ == "__main__":
    mp.set_start_method("fork")
    spec, data, chunksize, workers, repeats = sys.argv[1:6]
    best = float("inf")
    n = 0
    for _ in range(int(repeats)):
        started = time.perf_counter()
        n = run(spec, data, int(chunksize), int(workers))
        best = min(best, time.perf_counter() - started)
    print(json.dumps({"records": n, "best_seconds": best}))
