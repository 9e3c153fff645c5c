"""Prompt weighting and prompts longer than CLIP's 77 tokens, for SD 1.x/2.x and SDXL pipelines.

Syntax (as in A1111 and ComfyUI): `(words:1.3)` weighs words by 1.3, `(words)` by 1.1, `[words]`
by 1/1.1; they nest and multiply. `\\(` and `\\)` are literal brackets.

A prompt is tokenized without truncation, split into chunks of 75 tokens, each chunk wrapped in
start/end tokens and encoded on its own, and the chunk embeddings concatenated: the UNet's
cross-attention reads any length. Each token's embedding is scaled by its weight, then the whole
is rescaled to its unweighted mean, so weights shift emphasis without changing overall magnitude.
Prompts without weights that fit in 77 tokens take the pipeline's own path, unchanged.

SDXL has two text encoders: as diffusers does, each one's penultimate hidden states are taken and the two
concatenated along the width, and the pooled embedding comes from the second encoder (its projection). Long
prompts are chunked the same way for both, and the pooled embedding is the first chunk's, unweighted (as A1111
does): weights shift the per-token states that cross-attention reads.
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


def needs_encoding(tokenizer, prompts: list[str], *more_tokenizers) -> bool:
    """True when any prompt has weights or more tokens than one chunk holds (by any of the tokenizers)."""
    for prompt in prompts:
        pieces = parse(prompt)
        if any(weight != 1.0 for _, weight in pieces):
            return True
        for tok in (tokenizer, *more_tokenizers):
            if len(tok(plain(prompt), add_special_tokens=False).input_ids) > CHUNK:
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


def _chunk_count(tokenized: list[tuple[list[int], list[float]]]) -> int:
    return max(1, *((len(ids) + CHUNK - 1) // CHUNK for ids, _ in tokenized))


def _rows(tokenizer, ids: list[int], weights: list[float], chunks: int) -> tuple[list[list[int]], list[list[float]]]:
    """Each chunk as CLIP reads it: start, 75 tokens (padded), end; and every position's weight."""
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    rows, row_weights = [], []
    for c in range(chunks):
        part, part_w = ids[c * CHUNK:(c + 1) * CHUNK], weights[c * CHUNK:(c + 1) * CHUNK]
        fill = CHUNK - len(part)
        rows.append([bos, *part, eos] + [pad] * fill)
        row_weights.append([1.0, *part_w, 1.0] + [1.0] * fill)
    return rows, row_weights


def _weigh(hidden, row_weights, *, device):
    """Scale each token's embedding by its weight, then restore the unweighted mean (A1111's emphasis)."""
    import torch

    w = torch.tensor(row_weights, device=device, dtype=hidden.dtype).unsqueeze(-1)
    original_mean = hidden.float().mean()
    weighted = hidden * w
    return weighted * (original_mean / weighted.float().mean()).to(hidden.dtype)


def encode(pipe, prompts: list[str], *, device) -> object:
    """Prompt embeddings [batch, 77 × chunks, width] for an SD 1.x/2.x pipeline, all prompts padded to the
    same number of chunks (the negative prompts go through here too, so both sides match)."""
    import torch

    tokenizer, encoder = pipe.tokenizer, pipe.text_encoder
    tokenized = [_tokens(tokenizer, p) for p in prompts]
    chunks = _chunk_count(tokenized)
    out = []
    for ids, weights in tokenized:
        rows, row_weights = _rows(tokenizer, ids, weights, chunks)
        with torch.inference_mode():
            hidden = encoder(torch.tensor(rows, device=device))[0]  # [chunks, 77, width]
            out.append(_weigh(hidden, row_weights, device=device).reshape(1, -1, hidden.shape[-1]))
    return torch.cat(out, dim=0)


def encode_xl(pipe, prompts: list[str], *, device) -> tuple[object, object]:
    """(prompt embeddings [batch, 77 × chunks, width 1 + width 2], pooled embeddings [batch, projection]) for an
    SDXL pipeline, every prompt padded to the same number of chunks (negatives go through here too)."""
    import torch

    encoders = [(pipe.tokenizer, pipe.text_encoder), (pipe.tokenizer_2, pipe.text_encoder_2)]
    encoders = [(t, e) for t, e in encoders if t is not None and e is not None]
    tokenized = [[_tokens(t, p) for p in prompts] for t, _ in encoders]
    chunks = max(_chunk_count(per_encoder) for per_encoder in tokenized)
    dtype = encoders[-1][1].dtype
    embeds, pooled = [], []
    for i in range(len(prompts)):
        widths = []
        first_pooled = None
        for (tokenizer, encoder), per_encoder in zip(encoders, tokenized, strict=True):
            rows, row_weights = _rows(tokenizer, *per_encoder[i], chunks)
            with torch.inference_mode():
                out = encoder(torch.tensor(rows, device=device), output_hidden_states=True)
                hidden = out.hidden_states[-2]  # [chunks, 77, width]: the penultimate layer, as SDXL was trained
                widths.append(_weigh(hidden, row_weights, device=device).reshape(1, -1, hidden.shape[-1]))
                if out[0].ndim == 2:  # CLIPTextModelWithProjection: its text embedding is SDXL's pooled input
                    first_pooled = out[0][:1]
        embeds.append(torch.cat(widths, dim=-1))
        pooled.append(first_pooled)
    return torch.cat(embeds, dim=0).to(dtype), torch.cat(pooled, dim=0).to(dtype)
