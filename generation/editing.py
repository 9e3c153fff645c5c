"""Adapting one material to other placements: keep a product and regenerate the scene (inpainting), or
extend a picture to another aspect ratio (outpainting). Both build an (init image, mask) pair for the
diffusers backend's inpainting path (`ImageRequest(init_image=…, mask_image=…)`): white is regenerated.
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
