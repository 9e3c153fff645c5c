"""SDXL prompts: weighting `(word:1.2)` and prompts past 77 tokens, through both text encoders, on a tiny pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from generation import prompts as weighting
from generation.engine import ImageRequest, ModelSpec
from generation.engine.cache import PipelineCache
from generation.engine.sd import DiffusersBackend


@pytest.fixture(scope="module")
def tiny_xl(tmp_path_factory):
    from tests.support.tiny_pipelines import save_tiny_sdxl_pipeline

    folder = save_tiny_sdxl_pipeline(tmp_path_factory.mktemp("xl") / "tiny-xl")
    backend = DiffusersBackend(cache=PipelineCache(budget_bytes=1 << 30), device="cpu")
    model = ModelSpec(name="tiny-xl", family="sdxl", path=str(folder))
    return backend, model, backend.pipeline_for(model).pipe


def _draw(backend, model, prompt, *, seed=3, negative=""):
    request = ImageRequest(index=0, prompt=prompt, negative_prompt=negative, mix=(), width=32, height=32, seed=seed,
                           steps=2, guidance=2.0)
    (image,) = backend.generate_batch([request], model=model, loras={}, on_step=lambda n: None)
    return np.asarray(image)


def test_a_weighted_word_is_emphasised_where_it_stands_in_both_encoders(tiny_xl):
    _, _, pipe = tiny_xl
    plain, plain_pooled = weighting.encode_xl(pipe, ["a gold coin banner"], device="cpu")
    heavy, heavy_pooled = weighting.encode_xl(pipe, ["a (gold:1.5) coin banner"], device="cpu")
    assert plain.shape == heavy.shape == (1, 77, 64)  # 32 wide from each encoder, side by side
    gold, coin = 2, 3  # start token, "a", "gold", "coin": one token per word in the tiny vocabulary
    for half in (slice(0, 32), slice(32, 64)):
        ratio = heavy[0, :, half].norm(dim=-1) / plain[0, :, half].norm(dim=-1)
        # Every token is rescaled alike (the mean is restored) except the weighted one, which gets 1.5× more.
        assert ratio[gold] / ratio[coin] == pytest.approx(1.5, rel=1e-4)
        assert ratio[coin] == pytest.approx(ratio[10].item(), rel=1e-5)
    assert torch.equal(plain_pooled, heavy_pooled)  # the pooled embedding is the unweighted first chunk's


def test_an_unweighted_short_prompt_encodes_and_draws_exactly_as_the_pipeline_does(tiny_xl):
    _, _, pipe = tiny_xl
    prompt, negative = "a gold coin banner", "flat photo"
    ours, pooled = weighting.encode_xl(pipe, [prompt, negative], device="cpu")
    theirs, theirs_negative, theirs_pooled, theirs_negative_pooled = pipe.encode_prompt(
        prompt, device="cpu", num_images_per_prompt=1, do_classifier_free_guidance=True, negative_prompt=negative)
    assert torch.equal(ours[:1], theirs) and torch.equal(ours[1:], theirs_negative)
    assert torch.equal(pooled[:1], theirs_pooled) and torch.equal(pooled[1:], theirs_negative_pooled)

    def run(**kwargs):
        generator = torch.Generator("cpu").manual_seed(5)
        return np.asarray(pipe(num_inference_steps=2, guidance_scale=2.0, height=32, width=32, generator=generator,
                               output_type="pil", **kwargs).images[0])

    own_path = run(prompt=prompt, negative_prompt=negative)
    embedded = run(prompt_embeds=ours[:1], negative_prompt_embeds=ours[1:], pooled_prompt_embeds=pooled[:1],
                   negative_pooled_prompt_embeds=pooled[1:])
    assert np.array_equal(own_path, embedded)


def test_the_engine_weights_sdxl_prompts_and_weight_one_changes_nothing(tiny_xl):
    backend, model, _ = tiny_xl
    plain = _draw(backend, model, "a gold coin banner")
    assert np.array_equal(plain, _draw(backend, model, "a (gold:1.0) coin banner"))
    assert not np.array_equal(plain, _draw(backend, model, "a (gold:1.8) coin banner"))
    # With a negative prompt the weighted path encodes it through both encoders too.
    assert not np.array_equal(_draw(backend, model, "a (gold:1.8) coin banner", negative="flat photo"),
                              _draw(backend, model, "a (gold:1.8) coin banner"))


def test_a_200_token_sdxl_prompt_is_read_to_its_end(tiny_xl):
    backend, model, pipe = tiny_xl
    filler = "a " * 200  # one token per word: 200 tokens, three chunks of 75
    embeds, pooled = weighting.encode_xl(pipe, [filler + "gold"], device="cpu")
    assert embeds.shape == (1, 77 * 3, 64) and pooled.shape == (1, 32)
    gold, clay = _draw(backend, model, filler + "gold"), _draw(backend, model, filler + "clay")
    assert not np.array_equal(gold, clay)  # truncated at 77 tokens, both would be the same picture
    # The tail also reaches the embeddings with a negative prompt (then both sides are chunked alike).
    assert not np.array_equal(_draw(backend, model, filler + "gold", negative="photo"),
                              _draw(backend, model, filler + "clay", negative="photo"))
