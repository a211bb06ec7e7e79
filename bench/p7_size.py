"""P7: the size of the JavaScript this package ships, beside dask-labextension 7.0.0's wheel.

    python bench/p7_size.py   (downloads the dask-labextension wheel from PyPI into a temp dir)

Measure a production build (`jlpm build:prod`, what `pip install .` ships): a dev build is larger.
"""

import gzip
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

OURS = Path(__file__).resolve().parent.parent / "coffea_casa_lab" / "labextension" / "static"


def sizes(files):
    """(raw bytes, gzip -9 bytes) of the .js files among (name, bytes) pairs."""
    js = [data for name, data in files if name.endswith(".js")]
    return sum(map(len, js)), sum(len(gzip.compress(d, 9)) for d in js)


def theirs():
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, "dask-labextension==7.0.0"],
            check=True,
        )
        (wheel,) = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as zf:
            return sizes(
                (n, zf.read(n)) for n in zf.namelist() if "/labextensions/dask-labextension/static/" in n
            )


def main():
    ours = sizes((p.name, p.read_bytes()) for p in OURS.iterdir())
    other = theirs()
    print(f"P7 ours:                     {ours[0]:>8,} B JS, {ours[1]:>7,} B gzipped")
    print(f"P7 dask-labextension 7.0.0:  {other[0]:>8,} B JS, {other[1]:>7,} B gzipped")
    print(f"P7 ratio ours/theirs: {ours[0] / other[0]:.3f}x raw, {ours[1] / other[1]:.3f}x gzipped (goal <= 1)")


if __name__ == "__main__":
    main()
