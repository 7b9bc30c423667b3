"""``python -m ferrokmeans``: colour quantisation of a photo, timed against scikit-learn.

The default job takes scikit-learn's bundled sample photo ``china.jpg``
(427 x 640 = 273,280 pixels), scales its RGB values to [0, 1] as float32, and
clusters the pixels into 16 colours with :class:`ferrokmeans.KMeans` and with
:class:`sklearn.cluster.KMeans`, both built as ``KMeans(n_clusters=16,
random_state=0)`` and otherwise at their (identical) defaults. The fits are
timed with :func:`time.perf_counter`, alternating between the two libraries so
that neither profits from a warmer machine, and the best and median of the
repeats are reported. The photo redrawn with ferrokmeans' 16 colours is written
as a PNG.

``benchmarks/china_quantize.py`` runs the same comparison with more repeats and
more values of k.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["FitTiming", "load_pixels", "main", "quantize", "time_fits"]

DEFAULT_IMAGE = "china.jpg"
PILLOW_MISSING = (
    "ferrokmeans: reading and writing images needs pillow, which is not "
    'installed.\nInstall it with: pip install "ferrokmeans[image]"'
)

Pixels = npt.NDArray[np.float32]


@dataclass(frozen=True)
class FitTiming:
    """Wall times of repeated fits of one estimator, and its last fitted state."""

    name: str
    seconds: tuple[float, ...]
    inertia: float
    n_iter: int
    estimator: Any

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def pillow_available() -> bool:
    return importlib.util.find_spec("PIL") is not None


def load_pixels(
    image: str | os.PathLike[str] | None = None,
) -> tuple[Pixels, tuple[int, int], str]:
    """Load an RGB image as an ``(height * width, 3)`` float32 array in [0, 1].

    ``image=None`` loads scikit-learn's bundled ``china.jpg``. Returns the
    pixels, ``(height, width)`` and a short name for the image (the file stem).
    Needs pillow.
    """
    if image is None:
        from sklearn.datasets import load_sample_image

        rgb = np.asarray(load_sample_image(DEFAULT_IMAGE))
        name = Path(DEFAULT_IMAGE).stem
    else:
        from PIL import Image

        with Image.open(image) as img:
            # convert() also flattens palette, grey and alpha images to 3 channels.
            rgb = np.asarray(img.convert("RGB"))
        name = Path(image).stem
    height, width, channels = rgb.shape
    pixels = rgb.reshape(height * width, channels).astype(np.float32)
    pixels /= np.float32(255.0)
    return pixels, (height, width), name


def time_fits(
    pixels: Pixels,
    factories: Mapping[str, Callable[[], Any]],
    repeats: int,
) -> list[FitTiming]:
    """Fit a fresh estimator from each factory ``repeats`` times, interleaved.

    Round ``r`` fits every estimator once, in the given order, so slow drifts of
    the machine (frequency scaling, other load) fall on all of them alike.
    """
    seconds: dict[str, list[float]] = {name: [] for name in factories}
    fitted: dict[str, Any] = {}
    for _ in range(repeats):
        for name, make in factories.items():
            estimator = make()
            start = time.perf_counter()
            estimator.fit(pixels)
            seconds[name].append(time.perf_counter() - start)
            fitted[name] = estimator
    return [
        FitTiming(
            name=name,
            seconds=tuple(seconds[name]),
            inertia=float(fitted[name].inertia_),
            n_iter=int(fitted[name].n_iter_),
            estimator=fitted[name],
        )
        for name in factories
    ]


def quantize(
    centers: npt.ArrayLike, labels: npt.ArrayLike, shape: tuple[int, int]
) -> npt.NDArray[np.uint8]:
    """Redraw an image with each pixel replaced by its cluster's centre."""
    unit = np.clip(np.asarray(centers, dtype=np.float64), 0.0, 1.0)
    palette: npt.NDArray[np.uint8] = np.rint(unit * 255.0).astype(np.uint8)
    image: npt.NDArray[np.uint8] = palette[np.asarray(labels, dtype=np.intp)]
    return image.reshape(*shape, palette.shape[1])


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ferrokmeans",
        description=(
            "Quantise a photo to K colours with ferrokmeans.KMeans, time the fit "
            "against scikit-learn's KMeans with the same settings, and write the "
            "result as a PNG. Without --image, uses scikit-learn's sample photo "
            "china.jpg."
        ),
    )
    parser.add_argument(
        "-k",
        "--colors",
        type=_positive_int,
        default=16,
        metavar="K",
        help="number of colours, i.e. clusters (default: %(default)s)",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        metavar="PATH",
        help="PNG to write (default: NAME_Kcolors.png in the current directory, "
        "e.g. china_16colors.png)",
    )
    parser.add_argument(
        "--image",
        type=Path,
        default=None,
        metavar="PATH",
        help="image file to quantise instead of the bundled china.jpg",
    )
    parser.add_argument(
        "--no-compare",
        dest="compare",
        action="store_false",
        help="fit ferrokmeans only, skip scikit-learn",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random_state of both estimators (default: %(default)s)",
    )
    parser.add_argument(
        "--repeats",
        type=_positive_int,
        default=3,
        help="timed fits per library (default: %(default)s)",
    )
    parser.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        metavar="N",
        help="n_threads of ferrokmeans.KMeans (default: all cores)",
    )
    return parser


def _report(timings: Sequence[FitTiming], repeats: int, out: Path, header: str) -> str:
    width = max(len(t.name) for t in timings)
    runs = "1 run" if repeats == 1 else f"best / median of {repeats} interleaved runs"
    lines = [header, f"fit time ({runs}):"]
    for t in timings:
        lines.append(
            f"  {t.name:<{width}}  {t.best:8.3f} s / {t.median:8.3f} s   "
            f"inertia {t.inertia:.6g}   {t.n_iter} iterations"
        )
    if len(timings) == 2:
        ours, theirs = timings
        lines.append(
            f"  {'speed-up':<{width}}  {theirs.median / ours.median:.2f}x "
            f"({theirs.name} median / {ours.name} median)"
        )
        if theirs.inertia > 0:
            lines.append(
                f"  {'inertia':<{width}}  {ours.name} / {theirs.name} = "
                f"{ours.inertia / theirs.inertia:.6f}"
            )
    lines.append(f"wrote {out}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; ``argv`` defaults to ``sys.argv[1:]``. Returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not pillow_available():
        print(PILLOW_MISSING, file=sys.stderr)
        return 1

    import ferrokmeans

    try:
        pixels, shape, name = load_pixels(args.image)
    except OSError as exc:  # missing file, or not an image pillow can read
        parser.error(f"cannot read image {str(args.image)!r}: {exc}")
    k: int = args.colors
    if k > pixels.shape[0]:
        parser.error(f"--colors {k} is more than the {pixels.shape[0]} pixels")
    out: Path = args.output or Path(f"{name}_{k}colors.png")
    if not out.parent.is_dir():
        parser.error(f"--output: no directory {str(out.parent)!r}")

    factories: dict[str, Callable[[], Any]] = {
        "ferrokmeans": lambda: ferrokmeans.KMeans(
            n_clusters=k, random_state=args.seed, n_threads=args.threads
        ),
    }
    if args.compare:
        from sklearn.cluster import KMeans as SklearnKMeans

        factories["scikit-learn"] = lambda: SklearnKMeans(
            n_clusters=k, random_state=args.seed
        )
    timings = time_fits(pixels, factories, args.repeats)

    from PIL import Image

    fitted = timings[0].estimator
    rgb = quantize(fitted.cluster_centers_, fitted.labels_, shape)
    try:
        Image.fromarray(rgb).save(out, format="PNG")
    except OSError as exc:
        print(f"ferrokmeans: cannot write {str(out)!r}: {exc}", file=sys.stderr)
        return 1

    source = DEFAULT_IMAGE if args.image is None else str(args.image)
    threads = "all" if args.threads is None else str(args.threads)
    header = (
        f"ferrokmeans {getattr(ferrokmeans, '__version__', '')}: {source}, "
        f"{shape[0]} x {shape[1]} = {pixels.shape[0]:,} pixels x "
        f"{pixels.shape[1]} (float32) -> {k} colours, seed {args.seed}, "
        f"threads {threads} of {os.cpu_count()} cores"
    )
    print(_report(timings, args.repeats, out, header))
    return 0
