"""Prompt weighting and prompts longer than CLIP's 77 tokens, for SD 1.x/2.x pipelines.

Syntax (as in A1111 and ComfyUI): `(words:1.3)` weighs words by 1.3, `(words)` by 1.1, `[words]`
by 1/1.1; they nest and multiply. `\\(` and `\\)` are literal brackets.

A prompt is tokenized without truncation, split into chunks of 75 tokens, each chunk wrapped in
start/end tokens and encoded on its own, and the chunk embeddings concatenated: the UNet's
cross-attention reads any length. Each token's embedding is scaled by its weight, then the whole
is rescaled to its unweighted mean, so weights shift emphasis without changing overall magnitude.
Prompts without weights that fit in 77 tokens take the pipeline's own path, unchanged.
"""

from __future__ import annotations

import re

CHUNK = 75  # content tokens per chunk: 77 minus start and end
# Brackets (escaped or not), a ":weight)" close, plain text, a stray colon.
_TOKEN = re.compile(r"\\\(|\\\)|\\\[|\\\]|\(|\)|\[|\]|:\s*(-?[0-9.]+)\s*\)|[^\\()\[\]:]+|:")


def parse(prompt: str) -> list[tuple[str, float]]:
    """(text, weight) pieces of a weighted prompt."""
    pieces: list[tuple[str, float]] = []
    stack: list[tuple[str, int]] = []  # open brackets: kind and the index of their first piece

    def scale(start: int, factor: float) -> None:
        for i in range(start, len(pieces)):
            pieces[i] = (pieces[i][0], pieces[i][1] * factor)

    for match in _TOKEN.finditer(prompt):
        token = match.group(0)  # noqa: S105 - a prompt token, not a secret
        if token in ("\\(", "\\)", "\\[", "\\]"):
            pieces.append((token[1], 1.0))
        elif token == "(":  # noqa: S105
            stack.append(("(", len(pieces)))
        elif token == "[":  # noqa: S105
            stack.append(("[", len(pieces)))
        elif match.group(1) is not None and stack and stack[-1][0] == "(":
            try:
                scale(stack.pop()[1], float(match.group(1)))
            except ValueError:
                pieces.append((token, 1.0))
        elif token == ")" and stack and stack[-1][0] == "(":  # noqa: S105
            scale(stack.pop()[1], 1.1)
        elif token == "]" and stack and stack[-1][0] == "[":  # noqa: S105
            scale(stack.pop()[1], 1 / 1.1)
        else:
            pieces.append((token, 1.0))
    for kind, start in reversed(stack):  # unclosed brackets still weigh, as in A1111
        scale(start, 1.1 if kind == "(" else 1 / 1.1)
    merged: list[tuple[str, float]] = []
    for text, weight in pieces:
        if merged and merged[-1][1] == weight:
            merged[-1] = (merged[-1][0] + text, weight)
        elif text:
            merged.append((text, weight))
    return merged


def plain(prompt: str) -> str:
    """The prompt's text without weighting syntax (for pipelines that take text only)."""
    return "".join(text for text, _ in parse(prompt))


def needs_encoding(tokenizer, prompts: list[str]) -> bool:
    """True when any prompt has weights or more tokens than one chunk holds."""
    for prompt in prompts:
        pieces = parse(prompt)
        if any(weight != 1.0 for _, weight in pieces):
            return True
        if len(tokenizer(plain(prompt), add_special_tokens=False).input_ids) > CHUNK:
            return True
    return False


def _tokens(tokenizer, prompt: str) -> tuple[list[int], list[float]]:
    ids: list[int] = []
    weights: list[float] = []
    for text, weight in parse(prompt):
        piece = tokenizer(text, add_special_tokens=False).input_ids
        ids += piece
        weights += [weight] * len(piece)
    return ids, weights


def encode(pipe, prompts: list[str], *, device) -> object:
    """Prompt embeddings [batch, 77 × chunks, width] for an SD 1.x/2.x pipeline, all prompts padded to the
    same number of chunks (the negative prompts go through here too, so both sides match)."""
    import torch

    tokenizer, encoder = pipe.tokenizer, pipe.text_encoder
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    tokenized = [_tokens(tokenizer, p) for p in prompts]
    chunks = max(1, *((len(ids) + CHUNK - 1) // CHUNK for ids, _ in tokenized))
    out = []
    for ids, weights in tokenized:
        rows, row_weights = [], []
        for c in range(chunks):
            part, part_w = ids[c * CHUNK:(c + 1) * CHUNK], weights[c * CHUNK:(c + 1) * CHUNK]
            fill = CHUNK - len(part)
            rows.append([bos, *part, eos] + [pad] * fill)
            row_weights.append([1.0, *part_w, 1.0] + [1.0] * fill)
        with torch.inference_mode():
            hidden = encoder(torch.tensor(rows, device=device))[0]  # [chunks, 77, width]
            w = torch.tensor(row_weights, device=device, dtype=hidden.dtype).unsqueeze(-1)
            original_mean = hidden.float().mean()
            weighted = hidden * w
            weighted = weighted * (original_mean / weighted.float().mean()).to(hidden.dtype)
            out.append(weighted.reshape(1, -1, hidden.shape[-1]))
    return torch.cat(out, dim=0)
