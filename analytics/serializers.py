"""The typed answers of the report APIs: experiment report, attribution, explanation, off-policy estimate.

The services build plain dicts (`experiments.experiment_report`, `attribution.attribution_grid`,
`explain.explanation_for`, `ope.off_policy_estimate`); these serializers describe those dicts field by
field so `/api/schema/` documents each answer and the dashboard's TypeScript types are generated from
it. They describe, they do not reshape: the APIs return the service's dict as it is, and
`tests/analytics/test_answer_schemas.py` validates real answers of every endpoint against the schema.

Conventions: a `[low, high]` interval is a two-item list whose ends are null when they cannot be
computed; a metric that cannot be computed (no impressions, NaN) is null, never 0.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ranking.services import EXPERIMENT_STATUSES

from .models import PlacementExplanation


def interval(*, nullable_ends: bool = True, help_text: str = "") -> serializers.ListField:
    """`[low, high]`, each end null when it cannot be computed."""
    return serializers.ListField(child=serializers.FloatField(allow_null=nullable_ends), min_length=2,
                                 max_length=2, help_text=help_text)


def rate(help_text: str = "", *, required: bool = True) -> serializers.FloatField:
    """A rate or estimate that is null when it cannot be computed."""
    return serializers.FloatField(allow_null=True, required=required, help_text=help_text)


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "number"}], "nullable": True})
class ScalarField(serializers.JSONField):
    """A string or a number (or null): an EBM bin edge or category."""


# --- experiment report (GET /api/v1/experiments/<slug>/report) -------------------------------------

class LiftSerializer(serializers.Serializer):
    absolute = rate("Treatment minus control.")
    absolute_ci = interval(help_text="Fixed-horizon 95% interval of the absolute lift.")
    absolute_cs = interval(help_text="Always-valid 95% confidence sequence of the absolute lift.")
    relative = rate("Treatment / control − 1.")
    relative_ci = interval(help_text="Fixed-horizon 95% interval of the relative lift.")
    relative_cs = interval(help_text="Always-valid 95% confidence sequence of the relative lift.")
    p_value = rate("The headline two-sided p-value of the absolute lift: always-valid when the report is "
                   "sequential (the default), else fixed-horizon.")
    p_value_fixed_horizon = rate("Two-sided normal p-value (delta method), valid at one planned look only.")
    p_value_always_valid = rate("Mixture-SPRT p-value: ≤ 0.05 exactly when absolute_cs excludes 0; safe to "
                                "read daily.")
    p_value_adjusted = rate("The headline p-value, Holm-adjusted across the report's treatment arms.")


class CupedBucketSerializer(serializers.Serializer):
    ctr = rate()
    ctr_ci = interval()
    lift_vs_control = LiftSerializer(required=False, help_text="Absent on the control bucket.")


class BucketReportSerializer(serializers.Serializer):
    share = serializers.FloatField(allow_null=True, help_text="The configured share; null for a bucket "
                                                              "seen in the data but not configured.")
    users = serializers.IntegerField()
    impressions = serializers.IntegerField()
    clicks = serializers.IntegerField()
    conversions = serializers.IntegerField()
    ctr = rate("Clicks / impressions, users as the unit.")
    ctr_ci = interval(help_text="Fixed-horizon 95%.")
    ctr_cs = interval(help_text="Always-valid 95%.")
    cvr = rate("Conversions / clicks, users as the unit.")
    cvr_ci = interval(help_text="Fixed-horizon 95%.")
    cvr_cs = interval(help_text="Always-valid 95%.")
    lift_vs_control = LiftSerializer(allow_null=True, help_text="CTR lift; null on the control bucket.")
    p_value = rate("The headline p-value of lift_vs_control.")
    p_value_adjusted = rate("lift_vs_control's p-value, Holm-adjusted across treatment arms.")
    cvr_lift_vs_control = LiftSerializer(allow_null=True, help_text="CVR lift, the same statistics as CTR.")
    cuped = CupedBucketSerializer(required=False, help_text="Only when CUPED was applied to this bucket.")


class CupedSummarySerializer(serializers.Serializer):
    applied = serializers.BooleanField()
    users_with_history = serializers.IntegerField()
    theta = rate("Only when applied.", required=False)
    variance_removed_pct = rate("Only when applied.", required=False)


class SegmentLiftSerializer(serializers.Serializer):
    feature = serializers.CharField()
    value = serializers.CharField(help_text="The user's segment at first exposure (fixed for the experiment).")
    bucket = serializers.CharField()
    metric = serializers.ChoiceField(choices=["ctr", "cvr"])
    users = serializers.IntegerField(help_text="Users of the two arms in this segment; each user counts once.")
    relative_lift = rate()
    relative_lift_ci = interval(help_text="Fixed-horizon 95%.")
    relative_lift_cs = interval(help_text="Always-valid 95%.")
    absolute_lift = rate()
    p_value = rate("The headline p-value (always-valid when the report is sequential).")
    p_value_fixed_horizon = rate()
    q_value = rate("Benjamini–Hochberg across every segment, bucket and metric of the report.")
    significant = serializers.BooleanField()


class LoggingHealthSerializer(serializers.Serializer):
    impressions = serializers.IntegerField()
    share_with_bucket_and_propensity = rate()
    decisions_checked = serializers.IntegerField()
    propensities_valid_share = rate()
    propensity_problems_by_bucket = serializers.DictField(child=serializers.IntegerField())
    random_bucket_uniform_p_value = rate("Chi-square over the variants eligible at every random decision.")
    random_bucket_variants = serializers.IntegerField(help_text="Variants in the uniformity check.")
    random_bucket_variants_not_eligible = serializers.IntegerField(
        help_text="Variants with random-bucket impressions left out of the check (pinned, published or "
                  "changed during the experiment, or no longer live).")
    users_in_more_than_one_bucket = serializers.IntegerField()


class ExperimentReportSerializer(serializers.Serializer):
    experiment = serializers.CharField()
    placement = serializers.CharField()
    status = serializers.ChoiceField(choices=EXPERIMENT_STATUSES)
    started_at = serializers.DateTimeField()
    control = serializers.CharField(help_text="Always `control`: an experiment without it is refused (400).")
    sequential = serializers.BooleanField(help_text="Whether the headline values are always-valid.")
    headline = serializers.ChoiceField(choices=["always_valid", "fixed_horizon"],
                                       help_text="Which reading `p_value` fields and the dashboard lead with.")
    arms_adjustment = serializers.ChoiceField(choices=["holm"], help_text="How p_value_adjusted is adjusted.")
    buckets = serializers.DictField(child=BucketReportSerializer(), help_text="By bucket name.")
    srm_p_value = rate()
    srm_flag = serializers.BooleanField()
    srm_threshold = serializers.FloatField()
    cuped = CupedSummarySerializer()
    segments = SegmentLiftSerializer(many=True)
    health = LoggingHealthSerializer()
    notes = serializers.CharField()


# --- attribution (GET /api/v1/placements/<slug>/attribution) ---------------------------------------

class AttributionCellSerializer(serializers.Serializer):
    segment_feature = serializers.CharField()
    segment_value = serializers.CharField()
    tag_group = serializers.CharField()
    tag_value = serializers.CharField()
    impressions = serializers.IntegerField()
    clicks = serializers.IntegerField()
    weighted_impressions = serializers.FloatField()
    ctr = rate()
    ctr_ci = interval()
    segment_impressions = serializers.IntegerField()
    segment_ctr = rate()
    normalized_preference = rate("CTR of the tag in the segment / CTR of the segment.")
    normalized_preference_ci = interval()
    p_value = rate()
    supported = serializers.BooleanField(help_text="At least min_support impressions.")
    q_value = rate("Marginal view: Benjamini–Hochberg within the grid; null for a cell that was not tested.")
    relative_preference = rate("How much more the segment favours the tag over its group's other values than "
                               "everyone else does (odds ratio of odds ratios; at banner CTRs a ratio of CTR "
                               "ratios): 1 when it likes the tag as much as the rest. What findings are made of.",
                               required=False)
    relative_preference_ci = interval(help_text="95%, from the per-user variance (clicks within a user correlate).")
    rest_normalized_preference = rate("CTR(tag, rest) / CTR(rest) for everyone outside the segment.", required=False)
    relative_p_value = rate("Two-sided, of relative_preference = 1.", required=False)
    relative_q_value = rate("FDR-adjusted over every cell that can reach the pooled findings; null when the cell's "
                            "feature × tag group did not pass the family screen or the cell was not tested.",
                            required=False)
    aliased_with = serializers.ListField(child=serializers.CharField(), required=False,
                                         help_text="group=value tags always shown together with this one.")


class FindingTagSerializer(serializers.Serializer):
    group = serializers.CharField()
    value = serializers.CharField()


class FindingSerializer(serializers.Serializer):
    text = serializers.CharField()
    sentence = serializers.CharField(required=False, help_text="The finding as an analyst would repeat it.")
    segment_feature = serializers.CharField()
    segment_value = serializers.CharField()
    tag_group = serializers.CharField()
    tag_value = serializers.CharField()
    tags = FindingTagSerializer(many=True, required=False,
                                help_text="The tag, or every tag always shown with it (a compound finding).")
    aliased = serializers.BooleanField(required=False, help_text="A compound finding: tags that cannot be told apart.")
    direction = serializers.ChoiceField(choices=["prefer", "avoid"])
    normalized_preference = serializers.FloatField(allow_null=True, help_text="The segment's CTR(tag) / CTR.")
    normalized_preference_ci = interval()
    rest_normalized_preference = rate(required=False)
    relative_preference = serializers.FloatField(required=False, help_text="The segment's preference for the tag "
                                                 "against the rest's (see the cell's field; marginal findings: absent).")
    relative_preference_ci = serializers.ListField(child=serializers.FloatField(allow_null=True), min_length=2,
                                                   max_length=2, required=False, help_text="95%, per-user variance.")
    impressions = serializers.IntegerField()
    p_value = rate(required=False)
    q_value = serializers.FloatField()
    explained_by = serializers.CharField(required=False, help_text="In explained_findings: the user feature whose "
                                         "own findings on this tag account for this one.")


class SkippedFeatureSerializer(serializers.Serializer):
    feature = serializers.CharField()
    levels = serializers.IntegerField(help_text="Distinct values in the impressions read.")
    reason = serializers.CharField()


class AttributionSerializer(serializers.Serializer):
    placement = serializers.CharField()
    segment = serializers.CharField()
    tag_group = serializers.CharField()
    buckets = serializers.ListField(child=serializers.CharField())
    weighting = serializers.ChoiceField(choices=["none", "inverse_propensity"])
    impressions = serializers.IntegerField()
    min_support = serializers.IntegerField()
    cells = AttributionCellSerializer(many=True)
    findings = FindingSerializer(many=True, help_text="This grid's part of the pooled, FDR-controlled findings.")
    marginal_findings = FindingSerializer(many=True, required=False,
                                          help_text="The marginal view's findings (BH within this grid); they "
                                                    "carry each tag's effect on everyone.")
    explained_findings = FindingSerializer(many=True, required=False,
                                           help_text="Cells that passed the FDR bar but vanish within the strata of "
                                                     "another feature with findings on the same tag (a correlated "
                                                     "feature inheriting its preference): not findings.")
    aliases = serializers.ListField(child=serializers.ListField(child=serializers.CharField()), required=False,
                                    help_text="Sets of group=value tags always shown together.")
    notes = serializers.ListField(child=serializers.CharField(), required=False)
    skipped_features = SkippedFeatureSerializer(many=True, required=False,
                                                help_text="User features that are not segments: more distinct "
                                                          "values than KALEIDO_SEGMENT_MAX_LEVELS (numbers are "
                                                          "binned first). Left out of the pooled findings.")
    method = serializers.CharField(required=False, help_text="Which fields are the marginal view.")
    source = serializers.ChoiceField(
        choices=["snapshot", "live"],
        help_text="snapshot: the placement's prepared answer, computed off the request path; live: computed "
                  "for this request (parameters other than the defaults, or no fresh snapshot).")
    computed_at = serializers.DateTimeField(help_text="When the impressions this answer counts were read: it is "
                                                      "exactly the live answer of that moment.")
    age_s = serializers.FloatField(help_text="Seconds since computed_at (at most "
                                             "KALEIDO_ATTRIBUTION_SNAPSHOT_MAX_AGE_S for a snapshot).")
    data_through = serializers.DateTimeField(allow_null=True, help_text="The newest event time of the placement "
                                             "when it was computed (null: no events).")


class AliasSerializer(serializers.Serializer):
    tags = serializers.ListField(child=serializers.CharField())
    variants = serializers.IntegerField(help_text="Live variants that carry them (all of them, together).")
    materials = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                      help_text="Per tag, the material kinds (copy, image, layout) that carry it.")
    separate_with = serializers.ListField(child=serializers.CharField(),
                                          help_text="A material or variant that would tell them apart.")


class TagIdentifiabilitySerializer(serializers.Serializer):
    group = serializers.CharField()
    value = serializers.CharField()
    variants = serializers.IntegerField()
    identifiable = serializers.BooleanField()
    aliased_with = serializers.ListField(child=serializers.CharField())


class IdentifiabilitySerializer(serializers.Serializer):
    placement = serializers.CharField()
    live_variants = serializers.IntegerField()
    tag_values = serializers.IntegerField()
    identifiable = serializers.BooleanField(help_text="Every tag effect can be told apart from every other.")
    rank = serializers.IntegerField(help_text="Rank of the live catalogue's design matrix (intercept + tags).")
    parameters = serializers.IntegerField(help_text="The rank a fully identifiable catalogue has.")
    tags = TagIdentifiabilitySerializer(many=True)
    aliases = AliasSerializer(many=True)
    on_every_variant = serializers.ListField(child=serializers.CharField())
    other_dependencies = serializers.IntegerField(help_text="Dependencies beyond aliased pairs and constant tags.")
    notes = serializers.ListField(child=serializers.CharField())


# --- explanation (GET /api/v1/placements/<slug>/explain) -------------------------------------------

class TermSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["main", "pair"])  # noqa: A003 - the wire name
    features = serializers.ListField(child=serializers.CharField())
    importance = serializers.FloatField()


class MainEffectShapeSerializer(serializers.Serializer):
    names = serializers.ListField(child=ScalarField(), help_text="Bin edges (numbers) or categories.")
    scores = serializers.ListField(child=serializers.FloatField(allow_null=True))
    missing_score = serializers.FloatField(allow_null=True, required=False,
                                           help_text="The score of rows without this feature (missing).")


class PairShapeSerializer(serializers.Serializer):
    left_names = serializers.ListField(child=ScalarField())
    right_names = serializers.ListField(child=ScalarField())
    scores = serializers.ListField(child=serializers.ListField(child=serializers.FloatField(allow_null=True)))


class MainEffectSerializer(TermSerializer):
    shape = MainEffectShapeSerializer()


class PairSerializer(TermSerializer):
    shape = PairShapeSerializer()


class SegmentContributionSerializer(serializers.Serializer):
    term = serializers.CharField()
    mean_contribution = serializers.FloatField()


class ContributionsSerializer(serializers.Serializer):
    """The active model's contributions by segment, or `{model_version, error}` when it has none."""

    model_version = serializers.CharField()
    error = serializers.CharField(required=False)
    rows = serializers.IntegerField(required=False)
    scale = serializers.CharField(required=False, help_text="log-odds")
    terms = serializers.ListField(child=serializers.CharField(), required=False,
                                  help_text="Every term the model scores with: user features, ctx.*, tags, position.")
    by_segment = serializers.DictField(
        child=serializers.DictField(child=SegmentContributionSerializer(many=True)), required=False,
        help_text="Feature → segment value → the five largest mean contributions.")


class ExplanationSerializer(serializers.Serializer):
    """The cached explanation; the fitted fields are there once a job has succeeded (also while a
    refresh is pending)."""

    placement = serializers.CharField()
    status = serializers.ChoiceField(choices=PlacementExplanation.Status.choices)
    rows = serializers.IntegerField()
    computed_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    terms = TermSerializer(many=True, required=False)
    main_effects = MainEffectSerializer(many=True, required=False)
    pairs = PairSerializer(many=True, required=False)
    contributions = ContributionsSerializer(allow_null=True, required=False,
                                            help_text="Null without an active model.")
    train_seconds = serializers.FloatField(required=False)
    holdout_auc = serializers.FloatField(allow_null=True, required=False, help_text=(
        "ROC AUC of the EBM on the later 20% of the rows (it was fitted on the earlier 80%); null when "
        "the holdout has no click or only clicks."))
    holdout_rows = serializers.IntegerField(required=False)
    n_jobs = serializers.IntegerField(required=False, help_text="Threads the fit used (KALEIDO_EBM_JOBS).")
    detail = serializers.CharField(required=False,
                                   help_text="Present when a refresh was asked while a fit is running.")


# --- off-policy estimate (GET /api/v1/placements/<slug>/ope) ---------------------------------------

class EstimateSerializer(serializers.Serializer):
    ctr = rate("Null when no logged row carries weight (SNIPS over rows the target never shows).")
    ci = interval(help_text="The 95% interval to read: `ci_bca` unless the weights are heavy (effective sample "
                            "size below 100), then `guaranteed_ci`; `interval_method` says which.")
    ci_bca = interval(help_text="BCa bootstrap 95% interval, users as the resampling unit.")
    effective_sample_size = serializers.FloatField()
    largest_weight = serializers.FloatField()
    largest_weight_share = rate()


class EstimatesSerializer(serializers.Serializer):
    ips = EstimateSerializer()
    snips = EstimateSerializer()
    dr = EstimateSerializer(help_text="Doubly robust.")


class OnlineCtrSerializer(serializers.Serializer):
    model_version = serializers.CharField(allow_null=True, help_text="The active model; null without one.")
    impressions = serializers.IntegerField()
    clicks = serializers.IntegerField()
    ctr = rate()
    ctr_ci = interval()
    since = serializers.DateTimeField(required=False, help_text="Absent without an active model.")


class OpeTargetSerializer(serializers.Serializer):
    exploration_policy = serializers.ChoiceField(choices=["epsilon_greedy", "thompson"])
    epsilon = serializers.FloatField(help_text="Weight of uniform exploration in the serving mixture.")
    new_variant_share = serializers.FloatField(help_text="Weight of the new-variant component (0 without one).")
    new_variants = serializers.IntegerField(help_text="Variants below the placement's impression threshold.")
    pinned = serializers.ListField(child=serializers.CharField(),
                                   help_text="Pinned variant keys; the first holds position 1.")
    thompson_draws = serializers.IntegerField(help_text="Posterior draws the policy picks from (0 for ε-greedy).")


class ClippedIpsSerializer(serializers.Serializer):
    clip = serializers.FloatField(help_text="KALEIDO_IPS_CLIP, the rule training and attribution use.")
    ctr = rate("IPS with weights clipped there: lower variance, biased down when rows are clipped.")
    clipped_rows = serializers.IntegerField()


class UnsupportedVariantSerializer(serializers.Serializer):
    variant_key = serializers.CharField()
    target_share = serializers.FloatField(help_text="The target's mean probability of showing it at position 1.")


class OffPolicyEstimateSerializer(serializers.Serializer):
    placement = serializers.CharField()
    model_version = serializers.CharField()
    logged_buckets = serializers.ListField(child=serializers.CharField())
    rows = serializers.IntegerField()
    users = serializers.IntegerField(help_text="Distinct users among the rows: the bootstrap's unit.")
    target = OpeTargetSerializer(help_text="The serving policy evaluated (ranking.serving.model_policy).")
    interval_method = serializers.ChoiceField(
        choices=["bca_bootstrap_by_user", "betting_by_user"],
        help_text="What each estimate's `ci` is: BCa, or the betting interval when the weights are heavy.")
    guaranteed_ci = interval(help_text=(
        "A finite-sample 95% interval for the target's CTR that holds however heavy the importance weights "
        "(testing by betting, users as the unit); conservative, so wider than BCa."))
    clipped_ips = ClippedIpsSerializer()
    unsupported_variants = UnsupportedVariantSerializer(
        many=True, help_text="Live variants the target can show that no evaluated row shows.")
    warnings = serializers.ListField(child=serializers.CharField())
    evaluated_on = serializers.ChoiceField(choices=["after_training", "including_training"])
    rows_after_training = serializers.IntegerField()
    training_window = serializers.ListField(child=serializers.DateTimeField(allow_null=True), min_length=2,
                                            max_length=2)
    candidates = serializers.IntegerField()
    epsilon = serializers.FloatField()
    logged_ctr = serializers.FloatField()
    estimates = EstimatesSerializer()
    direct_method_ctr = rate()
    active_model = OnlineCtrSerializer()
    notes = serializers.CharField()

