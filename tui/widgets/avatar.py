"""The user's avatar in the terminal: textual-image draws it with the best the terminal offers
(Kitty graphics, Sixel) and falls back to coloured half blocks everywhere else."""

from __future__ import annotations

import io

from PIL import Image as PILImage
from PIL import UnidentifiedImageError
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

# Imported at start-up on purpose: textual-image asks the terminal what it can draw, which is
# impossible once Textual owns the screen.
from textual_image.widget import Image


class AvatarView(Vertical):
    """Shows image bytes (None: "no avatar"); `shown` says what is on screen, for tests."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shown: tuple[int, int] | None = None  # the picture's size in pixels

    def compose(self) -> ComposeResult:
        yield Static("No avatar.", id="avatar-caption", markup=False)
        yield Image(None, id="avatar-picture")

    def show(self, content: bytes | None) -> None:
        picture = self.query_one("#avatar-picture", Image)
        caption = self.query_one("#avatar-caption", Static)
        if not content:
            self.shown = None
            picture.image = None
            caption.update("No avatar.")
            return
        try:
            image = PILImage.open(io.BytesIO(content))
            image.load()
        except (UnidentifiedImageError, OSError) as exc:
            self.shown = None
            picture.image = None
            caption.update(f"The avatar could not be decoded: {exc}")
            return
        self.shown = image.size
        picture.image = image
        caption.update(f"Avatar ({image.width}x{image.height} {image.format or ''})")
