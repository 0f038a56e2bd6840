"""How an edit kind uses the canvas mask (white = may change): the one rule for which mask goes
into a request (the editor), whether the edit limits itself to it (the region and the composite)
and what the CLI's `--mask` means. Pure Python."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Use = Literal["unused", "optional", "required", "when"]


@dataclass(frozen=True)
class MaskUse:
    use: Use
    # "when": the mask is used while the request's `field` holds `value`; a CLI run given no
    # --mask sets the field to `otherwise`.
    field: str = ""
    value: Any = None
    otherwise: Any = None

    @property
    def used(self) -> bool:
        """The kind can use a mask at all (the canvas offers the brush and the region frame)."""
        return self.use != "unused"

    @property
    def required(self) -> bool:
        return self.use == "required"

    def sends(self, params: Mapping[str, Any], painted: bool) -> bool:
        """Whether the canvas mask goes into a request with these parameters: only when
        something is painted (an empty mask bounds nothing; a kind that needs one says so
        before it runs) and the kind uses it with these parameters."""
        if not painted or not self.used:
            return False
        return self.use != "when" or params.get(self.field) == self.value

    def limits(self, request: Any) -> bool:
        """Whether the edit `request` limits itself to its mask (only pixels inside may change;
        its auto region is around the mask)."""
        if request.mask is None or not self.used:
            return False
        return self.use != "when" or getattr(request, self.field) == self.value

    def cli_help(self) -> str:
        if self.use == "required":
            return "mask image, white = fill in (required)"
        if self.use == "when":
            return f"mask image, used with --{self.field.replace('_', '-')} {self.value}"
        return "mask image, white = may change (optional)"


MASK_UNUSED = MaskUse("unused")
MASK_OPTIONAL = MaskUse("optional")
MASK_REQUIRED = MaskUse("required")


def mask_when(field: str, value: Any, otherwise: Any) -> MaskUse:
    """A mask used only while parameter `field` is `value` (DiffEdit's mask mode "user")."""
    return MaskUse("when", field, value, otherwise)
