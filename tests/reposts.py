"""Factories for the copies reposting makes of a photo (tests and benchmarks share them).

Each takes an RGB photo and returns the changed copy as a new RGB image. Text is drawn
with Pillow's built-in font only (nothing is downloaded).
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont, ImageOps

SCREEN_WIDTH = 720
CAPTION = "READY STOCK murah!! WA 0812-3456-7890 cod jabodetabek"


def recompressed(photo: Image.Image, quality: int = 35) -> Image.Image:
    """A JPEG round trip at a low quality."""
    buffer = io.BytesIO()
    photo.convert("RGB").save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def resized(photo: Image.Image, share: float = 0.5) -> Image.Image:
    """The photo scaled by ``share`` on each side."""
    size = (max(1, round(photo.width * share)), max(1, round(photo.height * share)))
    return photo.resize(size, Image.Resampling.BILINEAR)


def cropped(photo: Image.Image, share: float = 0.08, left: float = 0.5) -> Image.Image:
    """``share`` of the width and of the height cut away; ``left`` of it on the left
    and top, the rest on the right and bottom."""
    cut_x, cut_y = photo.width * share, photo.height * share
    box = (
        round(cut_x * left),
        round(cut_y * left),
        photo.width - round(cut_x * (1 - left)),
        photo.height - round(cut_y * (1 - left)),
    )
    return photo.crop(box)


def mirrored(photo: Image.Image) -> Image.Image:
    return ImageOps.mirror(photo)


def captioned(photo: Image.Image, text: str = CAPTION) -> Image.Image:
    """Caption text on a dark band at the bottom and a faint watermark mid-photo."""
    copy = photo.convert("RGBA")
    overlay = Image.new("RGBA", copy.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    size = max(10, copy.height // 18)
    font = ImageFont.load_default(size=size)
    band_top = copy.height - round(size * 1.8)
    draw.rectangle((0, band_top, copy.width, copy.height), fill=(0, 0, 0, 140))
    draw.text(
        (size // 2, band_top + size // 3), text, font=font, fill=(255, 255, 255, 255)
    )
    mark_font = ImageFont.load_default(size=size * 2)
    mark = (copy.width // 8, copy.height // 3)
    draw.text(mark, "@reptil_jaya", font=mark_font, fill=(255, 255, 255, 90))
    return Image.alpha_composite(copy, overlay).convert("RGB")


def bordered(
    photo: Image.Image,
    share: float = 0.1,
    color: tuple[int, int, int] = (240, 240, 240),
) -> Image.Image:
    """A uniform frame ``share`` of the longer side wide."""
    border = max(1, round(max(photo.size) * share))
    return ImageOps.expand(photo.convert("RGB"), border=border, fill=color)


def letterboxed(photo: Image.Image, aspect: float = 1.0) -> Image.Image:
    """Black bars that pad the photo to ``aspect`` (width / height)."""
    width = max(photo.width, round(photo.height * aspect))
    height = max(photo.height, round(photo.width / aspect))
    canvas = Image.new("RGB", (width, height), (0, 0, 0))
    canvas.paste(photo, ((width - photo.width) // 2, (height - photo.height) // 2))
    return canvas


def phone_screenshot(
    photo: Image.Image, caption: str = CAPTION, dark: bool = False
) -> Image.Image:
    """The photo as a phone app shows it: status bar, header and account name above,
    buttons, likes and caption lines below, saved as a JPEG."""
    background, ink = (
        ((18, 18, 18), (235, 235, 235)) if dark else ((255, 255, 255), (20, 20, 20))
    )
    shown = photo.resize(
        (SCREEN_WIDTH, round(photo.height * SCREEN_WIDTH / photo.width)),
        Image.Resampling.BILINEAR,
    )
    top, bottom = 190, 330
    screen = Image.new("RGB", (SCREEN_WIDTH, top + shown.height + bottom), background)
    screen.paste(shown, (0, top))
    _draw_chrome(ImageDraw.Draw(screen), top + shown.height, ink, caption)
    return recompressed(screen, quality=80)


def _draw_chrome(draw: ImageDraw.ImageDraw, photo_bottom: int, ink, caption: str):
    small = ImageFont.load_default(size=22)
    large = ImageFont.load_default(size=30)
    draw.text((24, 14), "14:07", font=small, fill=ink)
    draw.text((SCREEN_WIDTH - 130, 14), "4G  87%", font=small, fill=ink)
    draw.text((24, 70), "Instagram", font=large, fill=ink)
    draw.ellipse((24, 128, 70, 174), outline=ink, width=3)
    draw.text((84, 138), "reptil_jaya_official  - Follow", font=small, fill=ink)
    draw.text((24, photo_bottom + 20), "<3   ( )   >", font=large, fill=ink)
    draw.text((24, photo_bottom + 80), "1.204 likes", font=small, fill=ink)
    for line, text in enumerate(
        (caption, "#reptil #jualreptil #ready", "View all 58 comments")
    ):
        draw.text((24, photo_bottom + 130 + 40 * line), text, font=small, fill=ink)
