"""Adapting one material to other placements: keep a product and regenerate the scene (inpainting), or
extend a picture to another aspect ratio (outpainting). Both build an (init image, mask) pair for the
diffusers backend's inpainting path (`ImageRequest(init_image=…, mask_image=…)`): white is regenerated.
`control_image(kind, image)` makes the structure image a ControlNet keeps (canny edges, line art, or an
operator's depth map), for `ImageRequest(control=ControlSpec(…))`.
"""

from __future__ import annotations

from PIL import Image, ImageFilter, ImageOps


def keep_mask(product_mask: Image.Image, *, feather: int = 4) -> Image.Image:
    """From a mask that is white on the product: the inpainting mask that regenerates everything else."""
    mask = ImageOps.invert(product_mask.convert("L"))
    return mask.filter(ImageFilter.GaussianBlur(feather)) if feather else mask


def outpaint_canvas(image: Image.Image, size: tuple[int, int], *, overlap: int = 8) -> tuple[Image.Image, Image.Image]:
    """The picture fitted inside `size` (whole, not cropped), centred, the new margins pre-filled with its
    stretched edges, and the mask of those margins (plus `overlap` px into the picture, so seams blend)."""
    tw, th = size
    scale = min(tw / image.width, th / image.height)
    w, h = max(1, round(image.width * scale)), max(1, round(image.height * scale))
    inner = image.convert("RGB").resize((w, h), Image.Resampling.LANCZOS)
    left, top = (tw - w) // 2, (th - h) // 2
    # Edges stretched outwards and blurred: a neutral start the model paints over.
    canvas = inner.resize((tw, th), Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(max(tw, th) / 16))
    canvas.paste(inner, (left, top))
    mask = Image.new("L", (tw, th), 255)
    keep = (min(tw, left + overlap), min(th, top + overlap), max(0, left + w - overlap), max(0, top + h - overlap))
    if keep[2] > keep[0] and keep[3] > keep[1]:
        mask.paste(0, keep)
    return canvas, mask


def canny_edges(image: Image.Image, *, low: float = 0.1, high: float = 0.3) -> Image.Image:
    """Edges of an operator's product or brand image (white on black), for a canny ControlNet.

    Gaussian blur, Sobel gradients, non-maximum suppression along the gradient and hysteresis between the
    `low` and `high` shares of the strongest gradient: the Canny steps, in numpy (no OpenCV needed)."""
    import numpy as np

    grey = np.asarray(image.convert("L").filter(ImageFilter.GaussianBlur(1.4)), dtype=np.float32)
    gx = np.zeros_like(grey)
    gy = np.zeros_like(grey)
    gx[1:-1, 1:-1] = (grey[:-2, 2:] + 2 * grey[1:-1, 2:] + grey[2:, 2:]) - (grey[:-2, :-2] + 2 * grey[1:-1, :-2] + grey[2:, :-2])
    gy[1:-1, 1:-1] = (grey[2:, :-2] + 2 * grey[2:, 1:-1] + grey[2:, 2:]) - (grey[:-2, :-2] + 2 * grey[:-2, 1:-1] + grey[:-2, 2:])
    magnitude = np.hypot(gx, gy)
    top = magnitude.max() or 1.0
    angle = (np.rad2deg(np.arctan2(gy, gx)) + 180) % 180
    thin = np.zeros_like(magnitude)
    for lo, hi, (dy, dx) in ((0, 22.5, (0, 1)), (157.5, 180, (0, 1)), (22.5, 67.5, (1, 1)),
                             (67.5, 112.5, (1, 0)), (112.5, 157.5, (1, -1))):
        sel = (angle >= lo) & (angle < hi)
        ahead = np.roll(magnitude, (-dy, -dx), axis=(0, 1))
        behind = np.roll(magnitude, (dy, dx), axis=(0, 1))
        keep = sel & (magnitude >= ahead) & (magnitude >= behind)
        thin[keep] = magnitude[keep]
    strong = thin >= high * top
    weak = thin >= low * top
    edges = strong.copy()
    for _ in range(4):  # grow strong edges through connected weak ones
        grown = edges.copy()
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                grown |= np.roll(edges, (dy, dx), axis=(0, 1))
        edges = grown & weak
    return Image.fromarray((edges * 255).astype("uint8"), "L").convert("RGB")


def lineart(image: Image.Image, *, sigma: float = 1.0, k: float = 1.6, threshold: float = 0.01) -> Image.Image:
    """Line art of an operator's image (white lines on black, as line-art ControlNets take it), by a
    difference of Gaussians: where the finer blur is darker than the coarser one there is a line or a dark
    contour. No learned weights: ink, logo and product outlines come through, soft shading does not."""
    import numpy as np

    grey = image.convert("L")
    fine = np.asarray(grey.filter(ImageFilter.GaussianBlur(sigma)), dtype=np.float32) / 255.0
    coarse = np.asarray(grey.filter(ImageFilter.GaussianBlur(sigma * k)), dtype=np.float32) / 255.0
    lines = (coarse - fine) > threshold
    return Image.fromarray((lines * 255).astype("uint8"), "L").convert("RGB")


def depth_map(image: Image.Image) -> Image.Image:
    """A depth image as depth ControlNets take it (near = white, greyscale), from a depth map the operator
    supplies (a 3D render's depth pass, a scanner's output): its range is stretched to 0..255.

    Kaleido does not estimate depth from a photo: that needs a trained network (MiDaS, DPT, Depth Anything)
    whose weights it does not ship and never downloads; brightness or blur are not depth."""
    grey = ImageOps.autocontrast(image.convert("L"))
    return grey.convert("RGB")


CONTROL_KINDS = ("canny", "lineart", "depth")


def control_image(kind: str, image: Image.Image) -> Image.Image:
    """The structure image a ControlNet of this kind keeps, computed from an operator's image."""
    if kind == "canny":
        return canny_edges(image)
    if kind == "lineart":
        return lineart(image)
    if kind == "depth":
        return depth_map(image)
    raise ValueError(f"unknown ControlNet kind '{kind}' (known: {', '.join(CONTROL_KINDS)}).")
