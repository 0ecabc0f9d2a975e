"""Clip augmentation in numpy/OpenCV: the thesis' nine offline transforms and online draws.

The same transform is applied to every frame of a clip (section 3.2.2: varying it frame to
frame would confuse a temporal model).

* **Offline** (figure 3.7), each applied on its own to make one extra copy of a clip:
  ``flip`` (horizontal), ``blur`` (Gaussian 3x3), ``bright50`` / ``bright20`` (+50 / +20),
  ``contrast2`` (alpha 2), ``contrast17`` (alpha 1.7, beta 50), ``rot+8`` / ``rot-8`` (degrees,
  about ``(w // 2, h // 2)`` with black corners, as ``imutils.rotate``), ``saltpepper`` (the
  thesis' ``salt_and_pepper(image, 0.01)``: fresh noise per frame and per channel, seeded per
  clip so a rerun gives the same copy).
* **Online**: one random mixture per clip within Keras' ``ImageDataGenerator`` ranges used in
  the thesis (rotation 10 degrees, zoom 0.1, shifts 0.1, shear 0.15 degrees, horizontal flip,
  brightness 0.4-1.5, nearest fill). :class:`OnlineAugmenter` derives each draw from
  ``(seed, epoch, index)``, so results do not depend on worker order.

The affine step follows Keras' ``apply_affine_transform`` (bilinear, rotation . shift . shear .
zoom about the centre, used as the output-to-input map so a zoom below 1 zooms in), with one
cleanup: the width shift moves along x and the height shift along y (Keras crosses them in its
matrix; for the square face crops used here the distributions are identical). No Keras needed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from fer_edge.core.errors import FerEdgeError, unknown_choice

OFFLINE = ("flip", "blur", "bright50", "bright20", "contrast2", "contrast17", "rot+8", "rot-8", "saltpepper")
"""The nine offline transforms, in the thesis' order."""


def _as_clip(clip: np.ndarray) -> np.ndarray:
    clip = np.asarray(clip)
    if clip.ndim not in (3, 4) or clip.dtype != np.uint8 or 0 in clip.shape:
        raise FerEdgeError(
            f"a clip must be uint8 (T, H, W) or (T, H, W, C), got {clip.dtype} {clip.shape}; "
            "pass frames as stored (use clip[None] for one image)"
        )
    return clip


def _per_frame(clip: np.ndarray, fn) -> np.ndarray:
    return np.stack([fn(frame).reshape(frame.shape) for frame in clip])


def _rotate(clip: np.ndarray, degrees: float) -> np.ndarray:
    # imutils.rotate(image, angle): centre (w // 2, h // 2), scale 1, cv2.warpAffine's default
    # border (constant 0), so the corners turn black as in the thesis' copies (section 3.2.4).
    h, w = clip.shape[1:3]
    m = cv2.getRotationMatrix2D((w // 2, h // 2), degrees, 1.0)
    return _per_frame(
        clip,
        lambda f: cv2.warpAffine(f, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0),
    )


def _salt_pepper(clip: np.ndarray, amount: float, seed: int) -> np.ndarray:
    """The thesis' ``salt_and_pepper`` (section 3.2.4, lines 11-30) on every frame and channel.

    Per frame and channel: ``ceil(amount * H * W * 0.5)`` salt coordinates (255) drawn with
    replacement, then as many pepper coordinates (0), each coordinate uniform in
    ``[0, dim - 1)`` as ``np.random.randint(0, i - 1)`` draws them (so the last row and column
    are never hit). Fresh draws per frame and channel; ``seed`` (one per clip) makes them
    reproducible.
    """
    h, w = clip.shape[1:3]
    rng = np.random.default_rng(seed)
    count = int(np.ceil(amount * h * w * 0.5))
    out = clip.copy()
    planes = out[..., None] if out.ndim == 3 else out
    for frame in planes:
        for c in range(frame.shape[-1]):
            for value in (255, 0):  # salt first, then pepper, as in the thesis
                ys = rng.integers(0, max(1, h - 1), count)
                xs = rng.integers(0, max(1, w - 1), count)
                frame[ys, xs, c] = value
    return out


def augment_seed(seed: int, name: str) -> int:
    """A clip's own seed for random copies, from the run seed and the clip name (stable across runs).

    Example:
        >>> augment_seed(0, "F001_happy") == augment_seed(0, "F001_happy") != augment_seed(0, "F001_sad")
        True
    """
    import zlib

    return (int(seed) * 1_000_003 + zlib.crc32(name.encode("utf-8"))) % (2**32)


def apply_offline(clip: np.ndarray, name: str, *, seed: int = 0) -> np.ndarray:
    """Apply one of the nine offline transforms identically to every frame.

    Args:
        clip: uint8 ``(T, H, W)`` or ``(T, H, W, C)``.
        name: one of :data:`OFFLINE`.
        seed: only ``saltpepper`` is random; pass one seed per clip (:func:`augment_seed`).

    Returns:
        A new clip of the same shape and dtype.

    Example:
        >>> clip = np.zeros((2, 8, 8, 3), np.uint8)
        >>> int(apply_offline(clip, "bright50").max())
        50
    """
    clip = _as_clip(clip)
    if name == "flip":
        return np.ascontiguousarray(clip[:, :, ::-1])
    if name == "blur":
        return _per_frame(clip, lambda f: cv2.GaussianBlur(f, (3, 3), 0))
    if name in ("bright50", "bright20", "contrast2", "contrast17"):
        alpha, beta = {"bright50": (1.0, 50), "bright20": (1.0, 20), "contrast2": (2.0, 0), "contrast17": (1.7, 50)}[
            name
        ]
        # convertScaleAbs saturates to 0..255 like the thesis' OpenCV code.
        return _per_frame(clip, lambda f: cv2.convertScaleAbs(f, alpha=alpha, beta=beta))
    if name in ("rot+8", "rot-8"):
        return _rotate(clip, 8.0 if name == "rot+8" else -8.0)
    if name == "saltpepper":
        return _salt_pepper(clip, 0.01, seed)
    raise unknown_choice("offline transform", name, OFFLINE)


def offline_variants(
    clip: np.ndarray, names: Sequence[str] = OFFLINE, *, seed: int = 0
) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(name, augmented clip)`` for each offline transform (the original not included).

    Example:
        >>> clip = np.zeros((1, 8, 8), np.uint8)
        >>> [name for name, _ in offline_variants(clip)][:3]
        ['flip', 'blur', 'bright50']
    """
    for name in names:
        yield name, apply_offline(clip, name, seed=seed)


@dataclass(frozen=True)
class OnlineConfig:
    """Ranges of the online draw; defaults are the thesis' ``ImageDataGenerator`` arguments.

    Attributes:
        rotation: degrees, uniform in [-rotation, rotation].
        zoom: zoom factors uniform in [1 - zoom, 1 + zoom], x and y drawn independently.
        width_shift: fraction of the width, uniform in [-width_shift, width_shift].
        height_shift: fraction of the height.
        shear: shear angle in degrees (Keras' unit), uniform in [-shear, shear].
        horizontal_flip: flip with probability 0.5.
        brightness: factor range (1 = unchanged).
    """

    rotation: float = 10.0
    zoom: float = 0.1
    width_shift: float = 0.1
    height_shift: float = 0.1
    shear: float = 0.15
    horizontal_flip: bool = True
    brightness: tuple[float, float] = (0.4, 1.5)

    def __post_init__(self) -> None:
        for name in ("rotation", "zoom", "width_shift", "height_shift", "shear"):
            if getattr(self, name) < 0:
                raise FerEdgeError(f"online augmentation {name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.zoom < 1 or not self.width_shift < 1 or not self.height_shift < 1:
            raise FerEdgeError("online zoom and shifts are fractions and must be < 1")
        lo, hi = self.brightness
        if not 0 < lo <= hi:
            raise FerEdgeError(f"brightness range must be 0 < low <= high, got {self.brightness}")


@dataclass(frozen=True)
class OnlineParams:
    """One draw: shifts in pixels, angles in degrees, zooms and brightness as factors."""

    theta: float
    tx: float
    ty: float
    shear: float
    zx: float
    zy: float
    flip: bool
    brightness: float

    def to_dict(self) -> dict:
        """JSON-ready form (to log what was applied)."""
        return asdict(self)


def draw(rng: np.random.Generator, size: tuple[int, int], config: OnlineConfig = OnlineConfig()) -> OnlineParams:
    """Draw one set of online parameters for a clip of frame ``size`` ``(w, h)``.

    Example:
        >>> p = draw(np.random.default_rng(0), (160, 160))
        >>> -10 <= p.theta <= 10 and 0.4 <= p.brightness <= 1.5
        True
    """
    w, h = size
    u = rng.uniform
    zx, zy = u(1 - config.zoom, 1 + config.zoom, 2) if config.zoom else (1.0, 1.0)
    return OnlineParams(
        theta=float(u(-config.rotation, config.rotation)),
        tx=float(u(-config.width_shift, config.width_shift) * w),
        ty=float(u(-config.height_shift, config.height_shift) * h),
        shear=float(u(-config.shear, config.shear)),
        zx=float(zx),
        zy=float(zy),
        flip=bool(config.horizontal_flip and rng.random() < 0.5),
        brightness=float(u(*config.brightness)),
    )


def affine_matrix(params: OnlineParams, size: tuple[int, int]) -> np.ndarray:
    """2x3 output-to-input map (OpenCV ``WARP_INVERSE_MAP``) for ``size`` ``(w, h)``.

    Example:
        >>> p = OnlineParams(0, 0, 0, 0, 1, 1, False, 1)
        >>> affine_matrix(p, (4, 4)).tolist()
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    w, h = size
    t, s = math.radians(params.theta), math.radians(params.shear)
    rot = np.array([[math.cos(t), -math.sin(t), 0], [math.sin(t), math.cos(t), 0], [0, 0, 1]])
    shift = np.array([[1, 0, params.tx], [0, 1, params.ty], [0, 0, 1]])
    shear = np.array([[1, -math.sin(s), 0], [0, math.cos(s), 0], [0, 0, 1]])
    zoom = np.diag([params.zx, params.zy, 1.0])
    cx, cy = (w - 1) / 2, (h - 1) / 2
    to_c = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1]])
    from_c = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]])
    return (to_c @ rot @ shift @ shear @ zoom @ from_c)[:2].astype(np.float64)


def apply_online(clip: np.ndarray, params: OnlineParams) -> np.ndarray:
    """Apply one draw to every frame (affine with nearest fill, then flip, then brightness).

    Example:
        >>> clip = np.full((3, 16, 16, 3), 100, np.uint8)
        >>> out = apply_online(clip, OnlineParams(5, 1, -1, 0.1, 1.05, 0.95, True, 1.2))
        >>> out.shape, int(out[0, 8, 8, 0])
        ((3, 16, 16, 3), 120)
    """
    clip = _as_clip(clip)
    h, w = clip.shape[1:3]
    m = affine_matrix(params, (w, h))
    identity = np.allclose(m, [[1, 0, 0], [0, 1, 0]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP

    def one(frame: np.ndarray) -> np.ndarray:
        out = frame if identity else cv2.warpAffine(frame, m, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE)
        if params.flip:
            out = cv2.flip(out, 1)
        if params.brightness != 1.0:
            out = cv2.convertScaleAbs(out, alpha=params.brightness, beta=0)
        return out

    return _per_frame(clip, one)


class OnlineAugmenter:
    """Seeded online augmentation: ``augmenter(clip, index, epoch)`` -> augmented clip.

    The draw for a clip depends only on ``(seed, epoch, index)``, so a shuffled or parallel
    loader gets the same augmentation as a sequential one.

    Example:
        >>> aug = OnlineAugmenter(seed=7)
        >>> clip = np.random.default_rng(0).integers(0, 255, (4, 32, 32, 3), dtype=np.uint8)
        >>> bool((aug(clip, index=3, epoch=1) == aug(clip, index=3, epoch=1)).all())
        True
    """

    def __init__(self, config: OnlineConfig = OnlineConfig(), *, seed: int = 0) -> None:
        self.config = config
        self.seed = int(seed)

    def params(self, size: tuple[int, int], *, index: int, epoch: int = 0) -> OnlineParams:
        """The draw for clip ``index`` in ``epoch`` at frame ``size`` ``(w, h)``."""
        rng = np.random.default_rng([self.seed, int(epoch), int(index)])
        return draw(rng, size, self.config)

    def __call__(self, clip: np.ndarray, *, index: int, epoch: int = 0) -> np.ndarray:
        clip = _as_clip(clip)
        h, w = clip.shape[1:3]
        return apply_online(clip, self.params((w, h), index=index, epoch=epoch))
