"""A grid of images with words beside it: column headings, row labels, a caption under each
image (a distance, an error). torchvision's make_grid draws images only."""

import math

from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from gan_lightning.data import to_uint8

GAP = 2            # pixels between images
MIN_TILE = 64      # small images are enlarged (nearest neighbour) until a side is this long, so words fit
TEXT = 11          # font size in pixels


def _font() -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=TEXT)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()


def enlargement(image_shape) -> int:
    """How many times larger labelled_grid draws images of this (C, H, W) shape."""
    return max(1, math.ceil(MIN_TILE / max(image_shape[-2:])))


def labelled_grid(images: Tensor, row_labels: list[str] | None = None, column_labels: list[str] | None = None,
                  captions: list[list[str]] | None = None) -> Image.Image:
    """`images` (rows, columns, C, H, W) in [-1, 1] as one picture: `column_labels` above the
    columns, `row_labels` left of the rows, `captions[r][c]` under image (r, c) (empty: none)."""
    rows, columns, channels, height, width = images.shape
    scale = enlargement((height, width))
    tiles = to_uint8(images.flatten(0, 1))
    tiles = tiles.repeat_interleave(scale, -2).repeat_interleave(scale, -1)
    tile_h, tile_w = height * scale, width * scale
    font = _font()
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))

    def text_width(text: str) -> int:
        return int(measure.textlength(text, font=font)) if text else 0

    left = max([text_width(label) for label in row_labels or []], default=0) + (6 if row_labels else 0)
    top = TEXT + 6 if column_labels else 0
    caption_h = TEXT + 4 if captions and any(any(row) for row in captions) else 0
    column_w = max([tile_w] + [text_width(c) + 4 for row in captions or [] for c in row]
                   + [text_width(c) + 4 for c in column_labels or []])
    cell_h = tile_h + caption_h
    picture = Image.new("RGB", (left + columns * (column_w + GAP) + GAP, top + rows * (cell_h + GAP) + GAP), "white")
    draw = ImageDraw.Draw(picture)
    for index, tile in enumerate(tiles):
        r, c = divmod(index, columns)
        x, y = left + GAP + c * (column_w + GAP), top + GAP + r * (cell_h + GAP)
        pixels = tile.permute(1, 2, 0).squeeze(-1).numpy() if channels in (1, 3) else tile[0].numpy()
        picture.paste(Image.fromarray(pixels).convert("RGB"), (x + (column_w - tile_w) // 2, y))
        if captions and captions[r][c]:
            draw.text((x + column_w / 2, y + tile_h + 2), captions[r][c], fill="black", font=font, anchor="ma")
    for c, label in enumerate(column_labels or []):
        draw.text((left + GAP + c * (column_w + GAP) + column_w / 2, 3), label, fill="black", font=font, anchor="ma")
    for r, label in enumerate(row_labels or []):
        draw.text((left - 4, top + GAP + r * (cell_h + GAP) + tile_h / 2), label, fill="black", font=font, anchor="rm")
    return picture


def to_frames(images: Tensor, nrow: int) -> list[Image.Image]:
    """(frames, N, C, H, W) in [-1, 1] -> one PIL grid per frame (for an animated GIF)."""
    from torchvision.utils import make_grid

    grids = [to_uint8(make_grid(frame, nrow=nrow, padding=GAP, pad_value=1.0)) for frame in images]
    return [Image.fromarray(grid.permute(1, 2, 0).numpy()).convert("P", palette=Image.ADAPTIVE) for grid in grids]

