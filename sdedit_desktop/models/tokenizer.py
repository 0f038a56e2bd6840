"""The CLIP tokenizer of every SD family, built from OpenAI's BPE merge list without a download.

`models/sd15/tokenizer/bpe_simple_vocab_16e6.txt.gz` (from the open_clip wheel, MIT) holds the
merges; CLIP's vocabulary is derived from them exactly as CLIP does it: the 256 byte symbols, the
same with '</w>' (end of word), one token per merge, then '<|startoftext|>' and '<|endoftext|>'
(49408 tokens for the full list). The tiny test model uses the same construction cut to the
first few hundred merges.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

from transformers import CLIPTokenizer

from sdedit_desktop.resources import model_configs_dir

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
CLIP_MERGES = 49152 - 256 - 2  # CLIP uses this many merges of the list (48894)
MAX_LENGTH = 77


def bpe_path() -> Path:
    return model_configs_dir() / "sd15" / "tokenizer" / "bpe_simple_vocab_16e6.txt.gz"


def bytes_to_unicode() -> dict[int, str]:
    """CLIP/GPT-2's reversible byte -> printable character table (avoids whitespace/control)."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs], strict=True))


@functools.lru_cache(maxsize=4)
def _read_merges(path: Path) -> tuple[tuple[str, str], ...]:
    with gzip.open(path) as handle:
        lines = handle.read().decode("utf-8").split("\n")
    # The first line is a version header; CLIP uses the next CLIP_MERGES lines.
    return tuple(tuple(line.split()) for line in lines[1:CLIP_MERGES + 1])  # type: ignore[misc]


def clip_vocab_and_merges(max_merges: int | None = None,
                          path: Path | None = None) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """CLIP's vocabulary (token -> id) and merge list, optionally truncated to `max_merges`."""
    merges = list(_read_merges(path or bpe_path()))
    if max_merges is not None:
        merges = merges[:max_merges]
    symbols = list(bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols]
    vocab.extend("".join(m) for m in merges)
    vocab.extend([BOS, EOS])
    return {token: i for i, token in enumerate(vocab)}, merges


def build_clip_tokenizer(max_merges: int | None = None, pad_token: str = EOS) -> CLIPTokenizer:
    """A CLIPTokenizer (77 tokens, lower case, padded with `pad_token`: <|endoftext|> for
    OpenAI's CLIP, "!" for the OpenCLIP encoders of SD 2.x and SDXL) from the bundled BPE."""
    vocab, merges = clip_vocab_and_merges(max_merges)
    return CLIPTokenizer(vocab=vocab, merges=merges, unk_token=EOS, bos_token=BOS,
                         eos_token=EOS, pad_token=pad_token, model_max_length=MAX_LENGTH)
