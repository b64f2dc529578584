#!/usr/bin/env python3
"""The hostile corpus through the Python binding in one process: liteport.convert(bytes, base_dir=...)
for every case whose model.onnx is a regular file and that needs no extra CLI options.

    python tests/hostile/inprocess.py CORPUS

Prints one JSON object per case: {"case", "ok", "status", "message", "size"}. A crash ends the
process (tests/test_hostile.py then reports the last case started, from the "start" lines).
"""
import json
import os
import sys

import liteport


def main():
    corpus = sys.argv[1]
    manifest = json.load(open(os.path.join(corpus, "manifest.json")))
    for name in sorted(manifest):
        d = os.path.join(corpus, name)
        p = os.path.join(d, "model.onnx")
        if manifest[name]["args"] or os.path.islink(p) or not os.path.isfile(p):
            continue
        print(json.dumps({"start": name}), flush=True)
        data = open(p, "rb").read()
        r = {"case": name}
        try:
            rep = liteport.convert(data, base_dir=d)
            r.update(ok=True, size=len(rep.tflite or b""))
        except liteport.ConversionError as e:
            r.update(ok=False, status=e.status, message=e.message)
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
