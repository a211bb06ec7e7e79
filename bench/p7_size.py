"""P7: the size of the static files this package ships, beside dask-labextension 7.0.0's wheel.

    python bench/p7_size.py   (downloads the dask-labextension wheel from PyPI into a temp dir)

Measure a production build (`jlpm build:prod`, what `pip install .` ships): a dev build is larger
and has source maps. Both sides are counted the same way: the bytes of every file in the lab
extension's `static/` folder (scripts, style module, licences) except `*.map` source maps; no
folder entries (a `du -b` of the folder would add its 4,096-byte directory block).
"""

import gzip
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

OURS = Path(__file__).resolve().parent.parent / "coffea_casa_lab" / "labextension" / "static"
THEIRS = "/labextensions/dask-labextension/static/"


def sizes(files):
    """(all bytes, JS bytes, gzip -9 JS bytes) of (name, bytes) pairs, source maps left out."""
    files = [(name, data) for name, data in files if not name.endswith(".map")]
    js = [data for name, data in files if name.endswith(".js")]
    return (
        sum(len(data) for _, data in files),
        sum(map(len, js)),
        sum(len(gzip.compress(d, 9)) for d in js),
    )


def ours():
    if any(p.name.endswith(".map") for p in OURS.iterdir()):
        print("P7 note: source maps found: this is a dev build; run `jlpm build:prod` first", file=sys.stderr)
    return sizes((p.name, p.read_bytes()) for p in OURS.iterdir() if p.is_file())


def theirs():
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, "dask-labextension==7.0.0"],
            check=True,
        )
        (wheel,) = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as zf:
            return sizes((n, zf.read(n)) for n in zf.namelist() if THEIRS in n and not n.endswith("/"))


def main():
    mine, other = ours(), theirs()
    print(f"P7 ours:                     {mine[0]:>8,} B static, {mine[1]:>8,} B JS, {mine[2]:>7,} B JS gzipped")
    print(f"P7 dask-labextension 7.0.0:  {other[0]:>8,} B static, {other[1]:>8,} B JS, {other[2]:>7,} B JS gzipped")
    print(
        f"P7 ratio ours/theirs: {mine[0] / other[0]:.3f}x static (goal <= 1); "
        f"JS {mine[1] / other[1]:.3f}x raw, {mine[2] / other[2]:.3f}x gzipped"
    )


if __name__ == "__main__":
    main()
