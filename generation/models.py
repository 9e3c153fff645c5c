"""Registered base models, LoRA styles, and generation jobs.

Weights are never downloaded: a base model and each LoRA are files under MODEL_ROOT,
registered by path after `generation.registry` has checked them (safetensors only).
"""

from __future__ import annotations

from django.db import models


class Family(models.TextChoices):
    SD15 = "sd15", "Stable Diffusion 1.x"
    SD2 = "sd2", "Stable Diffusion 2.x"
    SD_TURBO = "sd-turbo", "SD-Turbo"
    SDXL = "sdxl", "Stable Diffusion XL"
    SDXL_TURBO = "sdxl-turbo", "SDXL-Turbo"
    SD15_LCM = "sd15-lcm", "SD 1.5 LCM (distilled)"
    SDXL_LCM = "sdxl-lcm", "SDXL LCM (distilled)"
    OTHER = "other", "Other (checked by tensor shapes only)"


# The text-conditioning width a family's UNet expects; a LoRA must match its base model's.
FAMILY_CROSS_ATTENTION_DIM = {
    Family.SD15: 768, Family.SD2: 1024, Family.SD_TURBO: 1024, Family.SDXL: 2048, Family.SDXL_TURBO: 2048,
    Family.SD15_LCM: 768, Family.SDXL_LCM: 2048,
}


class Scheduler(models.TextChoices):
    DEFAULT = "default", "The model's own"
    DDIM = "ddim", "DDIM"
    EULER = "euler", "Euler"
    EULER_A = "euler_a", "Euler ancestral"
    DPMPP_2M = "dpmpp_2m", "DPM++ 2M"
    DPMPP_2M_KARRAS = "dpmpp_2m_karras", "DPM++ 2M Karras"
    DPMPP_SDE_KARRAS = "dpmpp_sde_karras", "DPM++ SDE Karras"
    PNDM = "pndm", "PNDM"
    LMS = "lms", "LMS"
    UNIPC = "unipc", "UniPC"
    LCM = "lcm", "LCM (distilled models)"


class BaseModel(models.Model):
    """A Stable Diffusion checkpoint on local disk: a diffusers folder or one .safetensors file."""

    class DType(models.TextChoices):
        AUTO = "auto", "fp16 on CUDA, fp32 on CPU"
        FP16 = "fp16", "float16"
        BF16 = "bf16", "bfloat16"
        FP32 = "fp32", "float32"

    name = models.SlugField(max_length=80, unique=True)
    family = models.CharField(max_length=20, choices=Family.choices, default=Family.SD15)
    path = models.CharField(max_length=500, help_text="Relative to MODEL_ROOT: a diffusers folder or a .safetensors file.")
    default_scheduler = models.CharField(max_length=20, choices=Scheduler.choices, default=Scheduler.DEFAULT)
    default_steps = models.PositiveIntegerField(default=25)
    default_guidance = models.FloatField(default=7.0)
    default_width = models.PositiveIntegerField(default=512)
    default_height = models.PositiveIntegerField(default=512)
    dtype = models.CharField(max_length=8, choices=DType.choices, default=DType.AUTO)
    # Read from the files at registration; LoRAs are checked against it.
    cross_attention_dim = models.PositiveIntegerField(default=0, editable=False)
    # SHA-256 of the weights (a file, or a folder's weight and config files), computed at registration and
    # checked by the worker before it loads them: an image's provenance names exactly these bytes.
    sha256 = models.CharField(max_length=64, blank=True, default="", editable=False)
    is_active = models.BooleanField(default=True, help_text="Inactive models are kept but not offered for new jobs.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.family})"


class LoraStyle(models.Model):
    """A LoRA adapter that gives images one look (flat, clay/3D, product photo …)."""

    name = models.SlugField(max_length=80, unique=True, help_text="Also the adapter name inside the pipeline.")
    base_model = models.ForeignKey(
        BaseModel, on_delete=models.CASCADE, related_name="loras",
        help_text="The model it was trained for; it also fits other models of the same family and shape.",
    )
    path = models.CharField(max_length=500, help_text="Relative to MODEL_ROOT: one .safetensors file.")
    trigger_words = models.CharField(max_length=200, blank=True, help_text="Added to the prompt, e.g. 'flat vector art'.")
    default_weight = models.FloatField(default=0.8)
    implied_tags = models.JSONField(default=dict, blank=True, help_text='e.g. {"visual_style": ["3d"]}')
    cross_attention_dim = models.PositiveIntegerField(default=0, editable=False)
    sha256 = models.CharField(max_length=64, blank=True, default="", editable=False,
                              help_text="Of the file at registration; the worker caches the adapter by it.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ControlNet(models.Model):
    """A ControlNet on local disk that keeps the structure of an operator's image (edges, line art, depth)."""

    class Kind(models.TextChoices):
        CANNY = "canny", "Canny edges"
        LINEART = "lineart", "Line art"
        DEPTH = "depth", "Depth (the operator supplies the depth map)"

    name = models.SlugField(max_length=80, unique=True)
    base_model = models.ForeignKey(BaseModel, on_delete=models.CASCADE, related_name="controlnets",
                                   help_text="Checked against it at registration (block and text widths).")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.CANNY,
                            help_text="How the structure image is computed from the operator's image.")
    path = models.CharField(max_length=500, help_text="Relative to MODEL_ROOT: a diffusers folder, or one "
                                                      ".safetensors file with '<stem>_config/config.json' beside it.")
    sha256 = models.CharField(max_length=64, blank=True, default="", editable=False)
    default_scale = models.FloatField(default=1.0, help_text="Conditioning scale: 0 ignores it, 1 follows it.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class IpAdapter(models.Model):
    """An IP-Adapter: a style reference image steers the look (palette, material, mood) of generated art."""

    name = models.SlugField(max_length=80, unique=True)
    base_model = models.ForeignKey(BaseModel, on_delete=models.CASCADE, related_name="ip_adapters",
                                   help_text="Checked against it at registration (every cross-attention layer).")
    path = models.CharField(max_length=500, help_text="Relative to MODEL_ROOT: the adapter's .safetensors file.")
    image_encoder_path = models.CharField(
        max_length=500, help_text="Relative to MODEL_ROOT: the CLIP image encoder folder (config.json and "
                                  ".safetensors weights) the adapter was trained with.")
    sha256 = models.CharField(max_length=64, blank=True, default="", editable=False)
    image_encoder_sha256 = models.CharField(max_length=64, blank=True, default="", editable=False)
    default_scale = models.FloatField(default=0.6, help_text="How strongly the reference image steers: 0 to 1.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class GenerationJob(models.Model):
    """A batch of images generated for a kit: every (LoRA mix) × images_per_mix, one ImageMaterial each."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Backend(models.TextChoices):
        DIFFUSERS = "diffusers", "Stable Diffusion (diffusers)"
        PROCEDURAL = "procedural", "Procedural (built-in Pillow art)"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    kit = models.ForeignKey("creative.CreativeKit", on_delete=models.CASCADE, related_name="generation_jobs")
    backend = models.CharField(max_length=12, choices=Backend.choices, default=Backend.PROCEDURAL)
    base_model = models.ForeignKey(BaseModel, null=True, blank=True, on_delete=models.PROTECT, related_name="jobs")
    prompt_template = models.TextField(
        default="{offer}, {trigger}, marketing banner illustration",
        help_text="Placeholders: {offer} (the kit's offer name), {trigger} (the mix's trigger words).",
    )
    negative_prompt = models.TextField(blank=True)
    # A list of mixes; each maps a style name to its weight, e.g. [{"flat": 1.0}, {"clay": 0.7, "gold": 0.3}].
    # {} is the base model alone. For the procedural backend the names are its built-in styles.
    mixes = models.JSONField(default=list, blank=True)
    images_per_mix = models.PositiveIntegerField(default=1)
    width = models.PositiveIntegerField(default=512)
    height = models.PositiveIntegerField(default=512)
    seed = models.BigIntegerField(default=0, help_text="Image i uses seed + i.")
    steps = models.PositiveIntegerField(default=25)
    guidance = models.FloatField(default=7.0)
    scheduler = models.CharField(max_length=20, choices=Scheduler.choices, default=Scheduler.DEFAULT)
    init_image = models.ImageField(upload_to="generation/init/", null=True, blank=True,
                                   help_text="Image-to-image: restyle this picture.")
    strength = models.FloatField(default=0.5, help_text="Image-to-image only: 0 keeps the picture, 1 ignores it.")
    mask_image = models.ImageField(upload_to="generation/mask/", null=True, blank=True,
                                   help_text="Inpainting (with an init image): white is regenerated, black is kept.")
    outpaint = models.BooleanField(default=False, help_text="Extend the init image to the job's aspect ratio "
                                                            "(the new margins are painted) instead of cropping it.")
    controlnet = models.ForeignKey(ControlNet, null=True, blank=True, on_delete=models.PROTECT, related_name="jobs")
    control_image = models.ImageField(upload_to="generation/control/", null=True, blank=True,
                                      help_text="ControlNet: the product or brand image whose structure is kept.")
    control_scale = models.FloatField(default=1.0, help_text="ControlNet conditioning scale (0 to 2).")
    ip_adapter = models.ForeignKey(IpAdapter, null=True, blank=True, on_delete=models.PROTECT, related_name="jobs")
    style_image = models.ImageField(upload_to="generation/style/", null=True, blank=True,
                                    help_text="IP-Adapter: the style reference image.")
    ip_adapter_scale = models.FloatField(default=0.6, help_text="IP-Adapter scale (0 to 1).")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0, help_text="Percent of denoising steps done.")
    step_timings = models.JSONField(default=list, blank=True, help_text="Seconds per denoising step, in order.")
    error = models.TextField(blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    # The worker running the job holds a lease, claimed and renewed with conditional UPDATEs: while it is
    # valid no other worker runs the job (see generation.services.job_run).
    leased_by = models.CharField(max_length=200, blank=True, default="", editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status"], name="generation_job_status")]

    def __str__(self) -> str:
        return f"job {self.pk} for {self.kit}"

    @property
    def total_images(self) -> int:
        return max(len(self.mixes), 1) * self.images_per_mix

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED
