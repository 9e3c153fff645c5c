"""Generation jobs: create, start, run (worker side), cancel, accept.

Other areas call `start_job(...)`; the admin and the demo use the same functions.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
import socket
import time
import uuid
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from PIL import Image

from creative.models import CreativeKit, ImageMaterial
from creative.services.materials import images_review
from creative.uploads import clean_image_upload

from .editing import control_image, outpaint_canvas
from .engine import (
    Backend,
    ControlSpec,
    GenerationError,
    ImageRequest,
    IpAdapterSpec,
    JobCancelled,
    LoraSpec,
    ModelSpec,
    StepCallback,
    compile_unet,
    get_backend,
    normalize_mix,
    out_of_memory,
    release_memory,
    run_requests,
)
from .engine.procedural import PROCEDURAL_STYLES
from .families import MAX_UPSCALE, apply_fit, fit_plan, native_size
from .hires import hires_fix, hires_steps, hires_strength, hires_wanted
from .models import BaseModel, ControlNet, GenerationJob, IpAdapter, LoraStyle
from .provenance import png_bytes, provenance_record
from .registry import extension_fits, lora_fits, resolve_model_path

logger = logging.getLogger(__name__)
Job = GenerationJob
MIN_SIDE, MAX_SIDE = 16, 2048
ASPECT_TOLERANCE = 0.1  # a size may differ from the placement's aspect by this share (rounding to 8 px)


def size_for_placement(placement, *, long_side: int = 512) -> tuple[int, int]:
    """The largest multiple-of-8 size with the placement's aspect whose long side is long_side."""
    pw, ph = max(1, placement.width), max(1, placement.height)
    if pw >= ph:
        w, h = long_side, long_side * ph / pw
    else:
        w, h = long_side * pw / ph, long_side
    return max(8, int(round(w / 8)) * 8), max(8, int(round(h / 8)) * 8)


def _check_size(*, width: int, height: int, placement) -> None:
    errors = {}
    for name, value in (("width", width), ("height", height)):
        if value % 8 or not MIN_SIDE <= value <= MAX_SIDE:
            errors[name] = f"{value} must be a multiple of 8 between {MIN_SIDE} and {MAX_SIDE}."
    if not errors and placement is not None and placement.width and placement.height:
        want, got = placement.width / placement.height, width / height
        if abs(got - want) / want > ASPECT_TOLERANCE:
            sw, sh = size_for_placement(placement, long_side=max(width, height))
            errors["width"] = (f"{width}×{height} does not match the placement's aspect "
                               f"{placement.width}×{placement.height}; try {sw}×{sh}.")
    if errors:
        raise ValidationError(errors)


def _native_size(base_model: BaseModel | None, placement) -> tuple[int, int]:
    aspect = max(1, placement.width) / max(1, placement.height) if placement is not None else 1.0
    long_side = max(base_model.default_width, base_model.default_height) if base_model else 512
    return native_size(base_model.family if base_model else "other", aspect, fallback_long_side=long_side)


def _clean_mixes(*, mixes, backend: str, base_model: BaseModel | None) -> list[dict[str, float]]:
    """Validate [{style: weight}, …] against the styles the chosen backend can apply."""
    if mixes is None:
        return [{}]
    if not isinstance(mixes, list):
        raise ValidationError({"mixes": "a list of {style: weight} objects."})
    cleaned: list[dict[str, float]] = []
    problems: list[str] = []
    for i, mix in enumerate(mixes):
        if not isinstance(mix, dict):
            problems.append(f"mix {i + 1} is not an object of style: weight.")
            continue
        item: dict[str, float] = {}
        for name, weight in mix.items():
            try:
                weight = float(weight)
            except (TypeError, ValueError):
                problems.append(f"mix {i + 1}: weight of '{name}' is not a number.")
                continue
            if not -2.0 <= weight <= 2.0:
                problems.append(f"mix {i + 1}: weight of '{name}' must be within -2..2.")
            if backend == GenerationJob.Backend.PROCEDURAL:
                if name not in PROCEDURAL_STYLES:
                    problems.append(f"'{name}' is not a procedural style ({', '.join(sorted(PROCEDURAL_STYLES))}).")
            else:
                style = LoraStyle.objects.select_related("base_model").filter(name=name).first()
                if style is None:
                    problems.append(f"LoRA style '{name}' is not registered.")
                elif base_model is not None and not lora_fits(style, base_model):
                    problems.append(f"LoRA style '{name}' ({style.base_model.family}) does not fit "
                                    f"{base_model.name} ({base_model.family}).")
            item[str(name)] = weight
        cleaned.append(item)
    if backend == GenerationJob.Backend.DIFFUSERS and compile_unet():
        crowded = [i + 1 for i, mix in enumerate(cleaned) if sum(1 for w in mix.values() if w) > 1]
        if crowded:
            problems.append(f"mix {', '.join(map(str, crowded))}: the gpu worker compiles the UNet and swaps one "
                            "LoRA at a time; make one style per mix, or run the worker with GENERATION_COMPILE=0.")
    if problems:
        raise ValidationError({"mixes": problems})
    return cleaned or [{}]


@transaction.atomic
def job_create(
    *, kit: CreativeKit, mixes: list[dict[str, float]] | None = None, images_per_mix: int = 1,
    base_model: BaseModel | None = None, backend: str | None = None, prompt_template: str | None = None,
    negative_prompt: str = "", width: int | None = None, height: int | None = None, seed: int | None = None,
    steps: int | None = None, guidance: float | None = None, scheduler: str | None = None,
    init_image: bytes | None = None, strength: float = 0.5, mask_image: bytes | None = None, outpaint: bool = False,
    controlnet: ControlNet | None = None, control_image: bytes | None = None, control_scale: float | None = None,
    ip_adapter: IpAdapter | None = None, style_image: bytes | None = None, ip_adapter_scale: float | None = None,
) -> GenerationJob:
    """A queued job, validated; nothing runs until job_start. Without a base model (and none registered)
    the procedural backend is used."""
    if backend is None:
        if base_model is None:
            base_model = BaseModel.objects.filter(is_active=True).order_by("-created_at").first()
        backend = GenerationJob.Backend.DIFFUSERS if base_model is not None else GenerationJob.Backend.PROCEDURAL
    if backend not in GenerationJob.Backend.values:
        raise ValidationError({"backend": f"unknown backend '{backend}'."})
    if backend == GenerationJob.Backend.DIFFUSERS and base_model is None:
        raise ValidationError({"base_model": "the diffusers backend needs a registered base model."})
    if backend == GenerationJob.Backend.PROCEDURAL:
        base_model = None
    if images_per_mix < 1 or images_per_mix > 64:
        raise ValidationError({"images_per_mix": "between 1 and 64."})
    if not 0.0 < strength <= 1.0:
        raise ValidationError({"strength": "between 0 and 1 (0.4–0.6 restyles while keeping the picture)."})
    if width or height:
        long_side = max(base_model.default_width, base_model.default_height) if base_model else 512
        default_w, default_h = size_for_placement(kit.placement, long_side=long_side)
        width, height = width or default_w, height or default_h
        _check_size(width=width, height=height, placement=kit.placement)
    elif base_model is None:
        width, height = size_for_placement(kit.placement, long_side=512)
    else:  # the family's trained size nearest the placement's aspect; the image is fitted to it when saved
        width, height = _native_size(base_model, kit.placement)
    job = GenerationJob(
        kit=kit, backend=backend, base_model=base_model,
        mixes=_clean_mixes(mixes=mixes, backend=backend, base_model=base_model),
        images_per_mix=images_per_mix, negative_prompt=negative_prompt, width=width, height=height,
        seed=seed if seed is not None else secrets.randbits(31),
        steps=steps or (base_model.default_steps if base_model else 8),
        guidance=guidance if guidance is not None else (base_model.default_guidance if base_model else 7.0),
        scheduler=scheduler or (base_model.default_scheduler if base_model else "default"),
        strength=strength,
    )
    if prompt_template:
        job.prompt_template = prompt_template
    if init_image is not None:
        # The checks every uploaded image gets (content type, size, pixels, no metadata), as materials do.
        try:
            cleaned = clean_image_upload(init_image, name="init")
        except ValidationError as exc:
            raise ValidationError({"init_image": exc.messages}) from exc
        job.init_image.save(cleaned.name, cleaned, save=False)
    _attach_editing(job, mask_image=mask_image, outpaint=outpaint, has_init=init_image is not None)
    _attach_extensions(job, controlnet=controlnet, control_image=control_image, control_scale=control_scale,
                       ip_adapter=ip_adapter, style_image=style_image, ip_adapter_scale=ip_adapter_scale)
    job.full_clean(exclude=["init_image", "mask_image", "control_image", "style_image"])
    job.save()
    return job


# Marks a queued job whose message never reached the broker; `jobs_resend_unsent` sends it again.
UNSENT = "Waiting for the task broker (unreachable when the job was queued); it is sent again automatically."


def _send(job_id: int) -> bool:
    """Publish the job's task; if the broker is down, mark the job so it is sent once the broker is back."""
    from kombu.exceptions import OperationalError as BrokerError

    from .tasks import generation_job_run

    try:
        generation_job_run.delay(job_id)
    except BrokerError:
        logger.warning("broker unreachable: generation job %s kept queued, to be sent again", job_id)
        GenerationJob.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(error=UNSENT)
        return False
    return True


def job_start(*, job: GenerationJob) -> GenerationJob:
    """Queue the job on the gpu queue once the surrounding transaction commits."""
    transaction.on_commit(lambda: _send(job.id))
    return job


def jobs_resend_unsent() -> int:
    """Send the jobs queued while the broker was down (beat runs this); each is sent once."""
    sent = 0
    for job_id in GenerationJob.objects.filter(status=Job.Status.QUEUED, error=UNSENT).values_list("pk", flat=True):
        # Clearing the mark first makes concurrent sweeps send each job once.
        if GenerationJob.objects.filter(pk=job_id, status=Job.Status.QUEUED, error=UNSENT).update(error=""):
            sent += _send(job_id)
    return sent


def start_job(*, kit: CreativeKit, **options) -> GenerationJob:
    """The generation area's facade: create a job for a kit and queue it."""
    with transaction.atomic():
        job = job_create(kit=kit, **options)
        job_start(job=job)
    job.refresh_from_db()
    return job


def job_cancel(*, job: GenerationJob) -> GenerationJob:
    """A queued job never starts; a running one stops at its next denoising step. Images made so far stay."""
    GenerationJob.objects.filter(pk=job.pk, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).update(
        status=Job.Status.CANCELLED, finished_at=timezone.now())
    job.refresh_from_db()
    return job


@transaction.atomic
def job_accept(*, job: GenerationJob, keep: Iterable[int] | None = None, by=None) -> int:
    """Accept the chosen images (ids, default all) into the kit and reject the others; returns how many were
    accepted. A generated image waits for this review: only accepted images are combined into variants; a
    rejected one is kept, with its file and provenance, for the record (creative.services.materials
    .images_review, which also retires the served variants of an image rejected after it was accepted)."""
    images = list(job.images.all())
    keep_ids = {img.id for img in images} if keep is None else set(keep)
    accepted = [img for img in images if img.id in keep_ids]
    outcome = images_review(accept=accepted, reject=[img for img in images if img.id not in keep_ids], by=by)
    if outcome.retired_variants:
        logger.info("generation job %s: retired %s", job.pk, ", ".join(outcome.retired_variants))
    job.accepted_at = timezone.now()
    job.save(update_fields=["accepted_at"])
    return len(accepted)


# -- worker side ---------------------------------------------------------------------------------------------


def _model_spec(base_model: BaseModel | None) -> ModelSpec | None:
    if base_model is None:
        return None
    path = resolve_model_path(base_model.path)  # re-checked: MODEL_ROOT may have changed since registration
    return ModelSpec(name=base_model.name, family=base_model.family, path=str(path), dtype=base_model.dtype,
                     sha256=base_model.sha256, width=base_model.default_width, height=base_model.default_height)


def _lora_specs(job: GenerationJob) -> dict[str, LoraSpec]:
    if job.backend != Job.Backend.DIFFUSERS:
        return {}
    names = {name for mix in job.mixes for name in mix}
    specs = {}
    for style in LoraStyle.objects.filter(name__in=names):
        specs[style.name] = LoraSpec(name=style.name, path=str(resolve_model_path(style.path)),
                                     trigger_words=style.trigger_words, sha256=style.sha256)
    return specs


def _trigger(job: GenerationJob, mix: dict[str, float], loras: dict[str, LoraSpec]) -> str:
    words = []
    for name, weight in mix.items():
        if weight <= 0:
            continue
        if job.backend == Job.Backend.PROCEDURAL:
            words.append(PROCEDURAL_STYLES.get(name, {}).get("trigger", name))
        elif name in loras and loras[name].trigger_words:
            trigger = loras[name].trigger_words
            # Weighted like the LoRA itself ("(clay 3d:0.6)"), read by generation.prompts.
            words.append(trigger if weight == 1.0 else f"({trigger}:{weight:g})")
    return ", ".join(words)


def _attach_editing(job: GenerationJob, *, mask_image: bytes | None, outpaint: bool, has_init: bool) -> None:
    """Inpainting (a mask) and outpainting need an init image and the diffusers backend; not both at once."""
    if mask_image is None and not outpaint:
        return
    field = "mask_image" if mask_image is not None else "outpaint"
    if not has_init:
        raise ValidationError({field: "needs an init image (the picture to keep or extend)."})
    if job.backend != Job.Backend.DIFFUSERS:
        raise ValidationError({field: "inpainting and outpainting need the diffusers backend and a base model."})
    if mask_image is not None and outpaint:
        raise ValidationError({"outpaint": "outpainting makes its own mask; send a mask or outpaint, not both."})
    job.outpaint = outpaint
    if mask_image is not None:
        try:
            cleaned = clean_image_upload(mask_image, name="mask")
        except ValidationError as exc:
            raise ValidationError({"mask_image": exc.messages}) from exc
        job.mask_image.save(cleaned.name, cleaned, save=False)


def _attach_extensions(job: GenerationJob, *, controlnet: ControlNet | None, control_image: bytes | None,
                       control_scale: float | None, ip_adapter: IpAdapter | None, style_image: bytes | None,
                       ip_adapter_scale: float | None) -> None:
    """A ControlNet needs the image whose structure it keeps, an IP-Adapter its style reference; both need the
    diffusers backend and must fit the job's base model. ControlNet runs text-to-image only."""
    for extension, image, field, image_field, scale, bounds in (
            (controlnet, control_image, "controlnet", "control_image", control_scale, (0.0, 2.0)),
            (ip_adapter, style_image, "ip_adapter", "style_image", ip_adapter_scale, (0.0, 1.0))):
        if extension is None:
            if image is not None:
                raise ValidationError({field: f"pick a registered {field.replace('_', '-')} for the {image_field.replace('_', ' ')}."})
            continue
        if job.backend != Job.Backend.DIFFUSERS or job.base_model is None:
            raise ValidationError({field: "needs the diffusers backend and a base model."})
        if not extension_fits(extension, job.base_model):
            raise ValidationError({field: f"'{extension.name}' was registered for {extension.base_model.name} "
                                          f"({extension.base_model.family}) and does not fit {job.base_model.name}."})
        if image is None:
            what = "the product or brand image whose structure it keeps" if field == "controlnet" else "a style reference image"
            raise ValidationError({image_field: f"needs {what}."})
        value = extension.default_scale if scale is None else float(scale)
        if not bounds[0] <= value <= bounds[1]:
            raise ValidationError({f"{field.replace('controlnet', 'control')}_scale": f"between {bounds[0]:g} and {bounds[1]:g}."})
        try:
            cleaned = clean_image_upload(image, name=image_field.split("_")[0])
        except ValidationError as exc:
            raise ValidationError({image_field: exc.messages}) from exc
        getattr(job, image_field).save(cleaned.name, cleaned, save=False)
        if field == "controlnet":
            job.controlnet, job.control_scale = extension, value
        else:
            job.ip_adapter, job.ip_adapter_scale = extension, value
    if controlnet is not None and job.init_image:
        raise ValidationError({"controlnet": "ControlNet runs text-to-image only; leave the init image empty."})


def _stored(field) -> Image.Image:
    with field.open("rb") as fh:
        return Image.open(io.BytesIO(fh.read())).convert("RGB")


def extension_specs(job: GenerationJob) -> tuple[ControlSpec | None, IpAdapterSpec | None]:
    """The job's ControlNet (with the structure image computed from the operator's image) and IP-Adapter."""
    control = ip = None
    if job.controlnet_id and job.control_image:
        net = job.controlnet
        control = ControlSpec(name=net.name, path=str(resolve_model_path(net.path)), kind=net.kind,
                              image=control_image(net.kind, _stored(job.control_image)), scale=job.control_scale,
                              sha256=net.sha256)
    if job.ip_adapter_id and job.style_image:
        adapter = job.ip_adapter
        ip = IpAdapterSpec(name=adapter.name, path=str(resolve_model_path(adapter.path)),
                           image_encoder=str(resolve_model_path(adapter.image_encoder_path)),
                           image=_stored(job.style_image), scale=job.ip_adapter_scale, sha256=adapter.sha256,
                           image_encoder_sha256=adapter.image_encoder_sha256)
    return control, ip


def editing_inputs(job: GenerationJob, init: Image.Image | None) -> tuple[Image.Image | None, Image.Image | None]:
    """(init image, mask) as the engine takes them: outpainting turns the init into a canvas of the job's
    aspect with its margins masked; inpainting reads the job's mask."""
    if init is None:
        return None, None
    if job.outpaint:
        return outpaint_canvas(init, (job.width, job.height))
    if job.mask_image:
        with job.mask_image.open("rb") as fh:
            return init, Image.open(io.BytesIO(fh.read())).convert("L")
    return init, None


def job_requests(job: GenerationJob, *, loras: dict[str, LoraSpec], init: Image.Image | None = None
                 ) -> list[ImageRequest]:
    """One request per (mix, repeat); image i gets seed + i, so any image can be made again alone."""
    init, mask = editing_inputs(job, init)
    control, ip = extension_specs(job)
    requests = []
    for m, mix in enumerate(job.mixes or [{}]):
        prompt = job.prompt_template.format_map(_Defaulting(offer=job.kit.offer_name, trigger=_trigger(job, mix, loras)))
        prompt = ", ".join(part.strip() for part in prompt.split(",") if part.strip())
        for r in range(job.images_per_mix):
            index = m * job.images_per_mix + r
            requests.append(ImageRequest(
                index=index, prompt=prompt, negative_prompt=job.negative_prompt, mix=normalize_mix(mix),
                width=job.width, height=job.height, seed=job.seed + index, steps=job.steps, guidance=job.guidance,
                scheduler=job.scheduler, init_image=init, strength=job.strength, mask_image=mask,
                control=control, ip_adapter=ip,
            ))
    return requests


class _Defaulting(dict):
    def __missing__(self, key: str) -> str:
        return ""


def progress_interval() -> float:
    """Seconds between progress writes (GENERATION_PROGRESS_S, default 0.5; 0 writes every step)."""
    return float(settings.GENERATION_PROGRESS_S)


class _Progress:
    """Writes progress and step timings from the step callback and renews the lease in the same UPDATE;
    raises JobCancelled when asked to stop (cancelled, or the lease was lost to another worker)."""

    def __init__(self, job: GenerationJob, *, worker: str, total_steps: int, done_steps: int):
        self.job_id = job.pk
        self.worker = worker
        self.total = max(1, total_steps)
        self.done = done_steps
        self.timings: list[float] = list(job.step_timings or [])
        self.last = time.perf_counter()
        self.written = float("-inf")  # the first step is always written

    def step(self, images: int = 1) -> None:
        """One denoising step of `images` images (a batch advances all of them at once). The row is written at
        most every GENERATION_PROGRESS_S seconds (a GPU step takes milliseconds; a write per step would cost
        more than the step), and that write is also where a cancel is noticed."""
        now = time.perf_counter()
        self.timings.append(round(now - self.last, 4))
        self.last = now
        self.done += images
        if now - self.written < progress_interval() and self.done < self.total:
            return
        self.written = now
        updated = _held(self.job_id, self.worker).update(
            progress=round(min(99.9, 100.0 * self.done / self.total), 2), step_timings=self.timings,
            lease_expires_at=_lease_end())
        if not updated:  # no longer running (the operator cancelled it) or no longer this worker's
            raise JobCancelled()

    def restart_clock(self) -> None:
        self.last = time.perf_counter()


# -- the lease: one job never runs on two workers at once ---------------------------------------------------
#
# A task can reach a second worker while the first still runs it: a redelivery once the broker's visibility
# timeout has passed, or the job queued again. The worker that runs a job holds a lease on its row
# (`leased_by`, `lease_expires_at`), taken with one conditional UPDATE that succeeds only when no other
# worker's lease is valid, and renewed by every progress write; each write the run makes is conditional on
# the lease still being its own. A worker that finds a valid lease leaves the job alone (the task looks
# again once that lease would have lapsed). A worker that dies stops renewing, so after
# `GENERATION_LEASE_S` seconds its lease lapses and the next delivery takes the job over, skipping the
# images already saved. The lease must outlast the longest pause between progress writes (a model load).


def worker_name() -> str:
    """Who holds a lease: host, process, and a random part unique to one run."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _lease_end():
    return timezone.now() + timedelta(seconds=settings.GENERATION_LEASE_S)


def _held(job_id: int, worker: str):
    """The job's row, while it runs under this worker's lease (the filter of every write a run makes)."""
    return GenerationJob.objects.filter(pk=job_id, status=Job.Status.RUNNING, leased_by=worker)


def job_lease_claim(*, job_id: int, worker: str) -> bool:
    """Take the job for `worker` (queued, or running under a lapsed lease); False if it is finished, gone,
    or another worker's lease is still valid."""
    now = timezone.now()
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now) | Q(leased_by=worker)
    return bool(GenerationJob.objects.filter(free, pk=job_id, status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
                .update(status=Job.Status.RUNNING, leased_by=worker, lease_expires_at=_lease_end(), error="",
                        started_at=Coalesce("started_at", Value(now, output_field=DateTimeField()))))


def _lease_renew(job_id: int, worker: str) -> None:
    """Extend this worker's lease; JobCancelled if another worker has taken the job over. (A cancelled job
    keeps its lease until the run ends, so the image in hand when the operator cancelled is still saved.)"""
    if not GenerationJob.objects.filter(pk=job_id, leased_by=worker).update(lease_expires_at=_lease_end()):
        raise JobCancelled()


def _lease_release(job_id: int, worker: str) -> None:
    GenerationJob.objects.filter(pk=job_id, leased_by=worker).update(leased_by="", lease_expires_at=None)


def job_lease_wait(job: GenerationJob | None) -> float | None:
    """Seconds until another worker's valid lease on this running job lapses; None when nobody holds one."""
    if job is None or job.status != Job.Status.RUNNING or job.lease_expires_at is None:
        return None
    remaining = (job.lease_expires_at - timezone.now()).total_seconds()
    return remaining if remaining > 0 else None


def job_run(*, job_id: int, worker: str | None = None) -> GenerationJob | None:
    """Run a job to the end (the gpu worker calls this). Safe to call again: images already saved are skipped.

    The run holds the job's lease (above); a job another worker holds is returned untouched. Failures are
    recorded on the job, never raised, so the worker goes on to its next job.
    """
    worker = worker or worker_name()
    if not job_lease_claim(job_id=job_id, worker=worker):
        job = GenerationJob.objects.filter(pk=job_id).first()
        if job_lease_wait(job) is not None:
            logger.info("generation job %s is running on %s until %s; left alone", job_id, job.leased_by,
                        job.lease_expires_at.isoformat())
        return job  # deleted, finished (a redelivered task for a job already done), or held by another worker
    job = GenerationJob.objects.select_related("kit", "base_model").get(pk=job_id)
    try:
        backend = get_backend(job.backend)
        loras = _lora_specs(job)
        missing = {n for mix in job.mixes for n in mix} - set(loras) if job.backend == Job.Backend.DIFFUSERS else set()
        if missing:
            raise GenerationError(f"LoRA style(s) {', '.join(sorted(missing))} are no longer registered.")
        model = _model_spec(job.base_model)
        init = None
        if job.init_image:
            with job.init_image.open("rb") as fh:
                init = Image.open(io.BytesIO(fh.read())).convert("RGB")
        requests = job_requests(job, loras=loras, init=init)
        done_indices = set(job.images.values_list("job_index", flat=True))
        todo = [r for r in requests if r.index not in done_indices]
        target, strength = _placement_size(job), hires_strength()

        def steps(r: ImageRequest) -> int:  # the image's denoising steps, and its hires pass's when it gets one
            return backend.steps_for(r) + (hires_steps(r, strength=strength)
                                           if hires_wanted((r.width, r.height), target, strength=strength) else 0)

        total = sum(steps(r) for r in requests)
        progress = _Progress(job, worker=worker, total_steps=total, done_steps=total - sum(steps(r) for r in todo))
        described = backend.describe(model=model)

        def on_image(request: ImageRequest, image: Image.Image, batch_size: int) -> None:
            _lease_renew(job_id, worker)  # still ours: another worker has not taken the job over
            _save_image(job, request, image, described=described, batch_size=batch_size, loras=loras,
                        backend=backend, model=model, on_step=progress.step)
            progress.restart_clock()

        _lease_renew(job_id, worker)  # the model load that follows may be the longest pause

        run_requests(backend=backend, requests=todo, model=model, loras=loras, on_step=progress.step,
                     on_image=on_image)
    except JobCancelled:
        logger.info("generation job %s stopped: cancelled, or its lease passed to another worker", job_id)
    except Exception as exc:  # a failed job must not take the worker down with it
        logger.exception("generation job %s failed", job_id)
        if isinstance(exc, ValidationError):
            message = "; ".join(exc.messages)
        elif isinstance(exc, GenerationError):
            message = str(exc)
        else:
            message = f"{type(exc).__name__}: {exc}"
        _held(job_id, worker).update(status=Job.Status.FAILED, error=message[:4000], finished_at=timezone.now())
    else:
        _held(job_id, worker).update(status=Job.Status.SUCCEEDED, progress=100.0, finished_at=timezone.now(),
                                     step_timings=progress.timings)
    finally:
        _lease_release(job_id, worker)
    return GenerationJob.objects.get(pk=job_id)


def provenance_for(job: GenerationJob, request: ImageRequest, *, described: dict, batch_size: int,
                   loras: dict[str, LoraSpec], fit: dict | None = None) -> dict:
    """What generation.provenance.reproduce needs to make this image again (see that module)."""
    request.details.setdefault("batch_size", batch_size)
    return provenance_record(job=job, request=request, described=described, loras=loras, fit=fit)


def _placement_size(job: GenerationJob) -> tuple[int, int] | None:
    """The size a diffusers image is delivered at: its placement's (procedural art is drawn at the job's size)."""
    placement = job.kit.placement
    if job.backend != Job.Backend.DIFFUSERS:
        return None
    if placement is None or not placement.width or not placement.height:
        return None
    return (placement.width, placement.height)


def _placement_fit(job: GenerationJob, image: Image.Image, *, lanczos_past_cap: bool = False) -> dict | None:
    """Generated at the family's native size; delivered at the placement's (never enlarged past MAX_UPSCALE:
    the hires pass, run before, brings an image that would need more to the placement's size). A pass stopped at
    its size cap (generation.hires) leaves the rest of the enlargement to Lanczos."""
    target = _placement_size(job)
    if target is None or image.size == target:
        return None
    return fit_plan(image.size, target, max_upscale=float("inf") if lanczos_past_cap else MAX_UPSCALE)


def _hires_or_kept(job: GenerationJob, request: ImageRequest, image: Image.Image, *, backend: Backend,
                   model: ModelSpec | None, loras: dict[str, LoraSpec], target: tuple[int, int], strength: float,
                   on_step: StepCallback) -> tuple[Image.Image, dict]:
    """The hires pass (generation.hires), or, out of accelerator memory, the image as generated and why: the job
    keeps an image fitted as without the pass rather than failing on a pass it can live without."""
    try:
        return hires_fix(backend=backend, request=request, image=image, model=model, loras=loras, target=target,
                         strength=strength, on_step=on_step)
    except Exception as exc:
        if not out_of_memory(exc):
            raise
        release_memory()
        reason = f"out of GPU memory for the hires pass at {target[0]}×{target[1]} ({type(exc).__name__})"
        logger.warning("generation job %s image %s: %s; kept at %d×%d without it", job.pk, request.index, reason,
                       *image.size)
        return image, {"skipped": reason, "from": list(image.size), "target": list(target), "strength": strength}


def _save_image(job: GenerationJob, request: ImageRequest, image: Image.Image, *, described: dict,
                batch_size: int, loras: dict[str, LoraSpec], backend: Backend | None = None,
                model: ModelSpec | None = None, on_step: StepCallback | None = None) -> ImageMaterial | None:
    """One ImageMaterial per (job, index); a retried task finds it and moves on. With the backend given, an image
    its placement would enlarge past MAX_UPSCALE gets the hires pass first (generation.hires)."""
    from .tagging import image_autotag

    if ImageMaterial.objects.filter(generation_job=job, job_index=request.index).exists():
        return None
    hires = None
    target, strength = _placement_size(job), hires_strength()
    if backend is not None and target and hires_wanted(image.size, target, strength=strength):
        image, hires = _hires_or_kept(job, request, image, backend=backend, model=model, loras=loras,
                                      target=target, strength=strength, on_step=on_step or (lambda n: None))
    fit = _placement_fit(job, image, lanczos_past_cap=bool(hires and hires.get("capped_at")))
    provenance = provenance_for(job, request, described=described, batch_size=batch_size, loras=loras, fit=fit)
    provenance["hires"] = hires
    if fit is not None:
        image = apply_fit(image, fit)
    material = ImageMaterial(
        kit=job.kit, source=ImageMaterial.Source.GENERATED, generation_job=job, job_index=request.index,
        provenance=provenance, review=ImageMaterial.Review.PENDING,  # joins combinations once accepted
    )
    material.file.save(f"gen-{job.pk}-{request.index}.png", ContentFile(png_bytes(image, provenance)), save=False)
    material.width, material.height = image.size
    try:
        with transaction.atomic():
            material.save()
    except IntegrityError:
        material.file.delete(save=False)
        if ImageMaterial.objects.filter(generation_job=job, job_index=request.index).exists():
            return None  # another delivery of the same task saved it first
        raise
    try:
        image_autotag(material)
    except Exception:  # tags can be added later; the image itself is what the job owes
        logger.exception("auto-tagging image %s failed", material.pk)
    return material
