/**
 * Kaleido's API as TypeScript types, generated from src/generated/openapi.yaml (the server's /api/schema/).
 * Do not edit: run `npm run generate:api --workspace dashboard` after changing a serializer.
 */
export interface paths {
    "/api/v1/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description Report impressions, clicks and conversions. Each event is validated on its own. */
        post: operations["api_v1_events_create"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/experiments/{slug}/report": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Per-bucket CTR/CVR with intervals, lift vs control, SRM, CUPED, segment lifts and logging health. */
        get: operations["api_v1_experiments_report_retrieve"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/placements/{slug}/attribution": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * @description Segment × tag grid with normalized preference, and the ranked findings in plain words.
         *
         *     The default parameters are served from the placement's prepared snapshot when a fresh one holds the
         *     grid (`source`, `computed_at`, `age_s` say which and how old); anything else is computed live.
         */
        get: operations["api_v1_placements_attribution_retrieve"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/placements/{slug}/explain": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description EBM term importances (main effects and pairs), cached per placement and refreshed on the cpu queue. */
        get: operations["api_v1_placements_explain_retrieve"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/placements/{slug}/identifiability": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Which tag effects the live catalogue can tell apart; aliased tags and the material that would separate them. */
        get: operations["api_v1_placements_identifiability_retrieve"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/placements/{slug}/ope": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description IPS, SNIPS and doubly robust estimates of a candidate model's CTR from logged decisions. */
        get: operations["api_v1_placements_ope_retrieve"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/rank": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description Rank a placement's live variants for one user; logs a decision and returns its id. */
        post: operations["api_v1_rank_create"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dashboard/api/experiments/{slug}/daily": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Daily impressions, clicks and CTR per bucket of one experiment. */
        get: operations["dashboard_api_experiments_daily_retrieve"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dashboard/api/meta": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Placements, experiments, tag groups and segment features for the dashboard's pickers. */
        get: operations["dashboard_api_meta_retrieve"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dashboard/api/models": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Registry versions (optionally of one placement) with holdout metrics and a live calibration curve. */
        get: operations["dashboard_api_models_retrieve"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dashboard/api/models/{version}/activate": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description Make a registry version the one that serves its scope (staff with change permission). */
        post: operations["dashboard_api_models_activate_create"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dashboard/api/models/{version}/rollout": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description Release a version gradually (staff who may activate models); the activation gate judges it first. */
        post: operations["dashboard_api_models_rollout_create"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dashboard/api/models/rollback": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description Re-activate the version that served before the current one (staff with change permission). */
        post: operations["dashboard_api_models_rollback_create"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dashboard/api/rollouts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Gradual releases of models (ranking.rollout), optionally of one placement: where each ramp stands. */
        get: operations["dashboard_api_rollouts_retrieve"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dashboard/api/rollouts/{rollout_id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description Stop a ramp under way; the incumbent serves everyone again. */
        post: operations["dashboard_api_rollouts_cancel_create"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dashboard/api/variants": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description A placement's variants with thumbnails, tags, status and observed CTR; filterable. */
        get: operations["dashboard_api_variants_retrieve"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /**
         * @description * `wait` - wait
         *     * `advance` - advance
         *     * `complete` - complete
         *     * `rollback` - rollback
         * @enum {string}
         */
        ActionEnum: "wait" | "advance" | "complete" | "rollback";
        /**
         * @description * `lightgbm` - LightGBM
         *     * `logreg` - Logistic regression
         * @enum {string}
         */
        AlgoEnum: "lightgbm" | "logreg";
        Alias: {
            tags: string[];
            /** @description Live variants that carry them (all of them, together). */
            variants: number;
            /** @description Per tag, the material kinds (copy, image, layout) that carry it. */
            materials: {
                [key: string]: string[];
            };
            /** @description A material or variant that would tell them apart. */
            separate_with: string[];
        };
        /**
         * @description * `holm` - holm
         * @enum {string}
         */
        ArmsAdjustmentEnum: "holm";
        Attribution: {
            placement: string;
            segment: string;
            tag_group: string;
            buckets: string[];
            weighting: components["schemas"]["WeightingEnum"];
            impressions: number;
            min_support: number;
            cells: components["schemas"]["AttributionCell"][];
            /** @description This grid's part of the pooled, FDR-controlled findings. */
            findings: components["schemas"]["Finding"][];
            /** @description The marginal view's findings (BH within this grid); they carry each tag's effect on everyone. */
            marginal_findings?: components["schemas"]["Finding"][];
            /** @description Cells that passed the FDR bar but vanish within the strata of another feature with findings on the same tag (a correlated feature inheriting its preference): not findings. */
            explained_findings?: components["schemas"]["Finding"][];
            /** @description Sets of group=value tags always shown together. */
            aliases?: string[][];
            notes?: string[];
            /** @description User features that are not segments: more distinct values than KALEIDO_SEGMENT_MAX_LEVELS (numbers are binned first). Left out of the pooled findings. */
            skipped_features?: components["schemas"]["SkippedFeature"][];
            /** @description Which fields are the marginal view. */
            method?: string;
            /**
             * @description snapshot: the placement's prepared answer, computed off the request path; live: computed for this request (parameters other than the defaults, or no fresh snapshot).
             *
             *     * `snapshot` - snapshot
             *     * `live` - live
             */
            source: components["schemas"]["AttributionSourceEnum"];
            /**
             * Format: date-time
             * @description When the impressions this answer counts were read: it is exactly the live answer of that moment.
             */
            computed_at: string;
            /**
             * Format: double
             * @description Seconds since computed_at (at most KALEIDO_ATTRIBUTION_SNAPSHOT_MAX_AGE_S for a snapshot).
             */
            age_s: number;
            /**
             * Format: date-time
             * @description The newest event time of the placement when it was computed (null: no events).
             */
            data_through: string | null;
        };
        AttributionCell: {
            segment_feature: string;
            segment_value: string;
            tag_group: string;
            tag_value: string;
            impressions: number;
            clicks: number;
            /** Format: double */
            weighted_impressions: number;
            /** Format: double */
            ctr: number | null;
            ctr_ci: [
                number | null,
                number | null
            ];
            segment_impressions: number;
            /** Format: double */
            segment_ctr: number | null;
            /**
             * Format: double
             * @description CTR of the tag in the segment / CTR of the segment.
             */
            normalized_preference: number | null;
            normalized_preference_ci: [
                number | null,
                number | null
            ];
            /** Format: double */
            p_value: number | null;
            /** @description At least min_support impressions. */
            supported: boolean;
            /**
             * Format: double
             * @description Marginal view: Benjamini–Hochberg within the grid; null for a cell that was not tested.
             */
            q_value: number | null;
            /**
             * Format: double
             * @description How much more the segment favours the tag over its group's other values than everyone else does (odds ratio of odds ratios; at banner CTRs a ratio of CTR ratios): 1 when it likes the tag as much as the rest. What findings are made of.
             */
            relative_preference?: number | null;
            /** @description 95%, from the per-user variance (clicks within a user correlate). */
            relative_preference_ci: [
                number | null,
                number | null
            ];
            /**
             * Format: double
             * @description CTR(tag, rest) / CTR(rest) for everyone outside the segment.
             */
            rest_normalized_preference?: number | null;
            /**
             * Format: double
             * @description Two-sided, of relative_preference = 1.
             */
            relative_p_value?: number | null;
            /**
             * Format: double
             * @description FDR-adjusted over every cell that can reach the pooled findings; null when the cell's feature × tag group did not pass the family screen or the cell was not tested.
             */
            relative_q_value?: number | null;
            /** @description group=value tags always shown together with this one. */
            aliased_with?: string[];
        };
        /**
         * @description * `snapshot` - snapshot
         *     * `live` - live
         * @enum {string}
         */
        AttributionSourceEnum: "snapshot" | "live";
        /**
         * @description * `control` - control
         *     * `random` - random
         *     * `model` - model
         * @enum {string}
         */
        BucketEnum: "control" | "random" | "model";
        BucketReport: {
            /**
             * Format: double
             * @description The configured share; null for a bucket seen in the data but not configured.
             */
            share: number | null;
            users: number;
            impressions: number;
            clicks: number;
            conversions: number;
            /**
             * Format: double
             * @description Clicks / impressions, users as the unit.
             */
            ctr: number | null;
            /** @description Fixed-horizon 95%. */
            ctr_ci: [
                number | null,
                number | null
            ];
            /** @description Always-valid 95%. */
            ctr_cs: [
                number | null,
                number | null
            ];
            /**
             * Format: double
             * @description Conversions / clicks, users as the unit.
             */
            cvr: number | null;
            /** @description Fixed-horizon 95%. */
            cvr_ci: [
                number | null,
                number | null
            ];
            /** @description Always-valid 95%. */
            cvr_cs: [
                number | null,
                number | null
            ];
            /** @description CTR lift; null on the control bucket. */
            lift_vs_control: components["schemas"]["Lift"] | null;
            /**
             * Format: double
             * @description The headline p-value of lift_vs_control.
             */
            p_value: number | null;
            /**
             * Format: double
             * @description lift_vs_control's p-value, Holm-adjusted across treatment arms.
             */
            p_value_adjusted: number | null;
            /** @description CVR lift, the same statistics as CTR. */
            cvr_lift_vs_control: components["schemas"]["Lift"] | null;
            /** @description Only when CUPED was applied to this bucket. */
            cuped?: components["schemas"]["CupedBucket"];
        };
        CalibrationPoint: {
            /** Format: double */
            predicted: number;
            /** Format: double */
            observed: number;
            count: number;
        };
        ClippedIps: {
            /**
             * Format: double
             * @description KALEIDO_IPS_CLIP, the rule training and attribution use.
             */
            clip: number;
            /**
             * Format: double
             * @description IPS with weights clipped there: lower variance, biased down when rows are clipped.
             */
            ctr: number | null;
            clipped_rows: number;
        };
        /** @description The active model's contributions by segment, or `{model_version, error}` when it has none. */
        Contributions: {
            model_version: string;
            error?: string;
            rows?: number;
            /** @description log-odds */
            scale?: string;
            /** @description Every term the model scores with: user features, ctx.*, tags, position. */
            terms?: string[];
            /** @description Feature → segment value → the five largest mean contributions. */
            by_segment?: {
                [key: string]: {
                    [key: string]: components["schemas"]["SegmentContribution"][];
                };
            };
        };
        CupedBucket: {
            /** Format: double */
            ctr: number | null;
            ctr_ci: [
                number | null,
                number | null
            ];
            /** @description Absent on the control bucket. */
            lift_vs_control?: components["schemas"]["Lift"];
        };
        CupedSummary: {
            applied: boolean;
            users_with_history: number;
            /**
             * Format: double
             * @description Only when applied.
             */
            theta?: number | null;
            /**
             * Format: double
             * @description Only when applied.
             */
            variance_removed_pct?: number | null;
        };
        DailyRow: {
            /** Format: date */
            day: string;
            bucket: string;
            impressions: number;
            clicks: number;
            /** Format: double */
            ctr: number | null;
        };
        DashboardMeta: {
            placements: components["schemas"]["MetaPlacement"][];
            /** @description Newest first. */
            experiments: components["schemas"]["MetaExperiment"][];
            tag_groups: components["schemas"]["MetaTagGroup"][];
            /** @description User feature names seen in recent decisions. */
            segment_features: string[];
        };
        /**
         * @description * `control` - Control (default design)
         *     * `random` - Random (uniform over live variants)
         *     * `model` - Model (personalized)
         * @enum {string}
         */
        DefaultModeEnum: "control" | "random" | "model";
        /**
         * @description * `prefer` - prefer
         *     * `avoid` - avoid
         * @enum {string}
         */
        DirectionEnum: "prefer" | "avoid";
        /** @description Every error answer: what went wrong in `detail`, and on a 400 each offending field in `errors`. */
        ErrorAnswer: {
            /** @description What went wrong, in words. */
            detail: string;
            /** @description Only on 400: each offending field and its messages (a list of strings; a nested field's messages nest the same way, a list item's under its index). */
            errors?: {
                [key: string]: unknown;
            };
        };
        Estimate: {
            /**
             * Format: double
             * @description Null when no logged row carries weight (SNIPS over rows the target never shows).
             */
            ctr: number | null;
            /** @description The 95% interval to read: `ci_bca` unless the weights are heavy (effective sample size below 100), then `guaranteed_ci`; `interval_method` says which. */
            ci: [
                number | null,
                number | null
            ];
            /** @description BCa bootstrap 95% interval, users as the resampling unit. */
            ci_bca: [
                number | null,
                number | null
            ];
            /** Format: double */
            effective_sample_size: number;
            /** Format: double */
            largest_weight: number;
            /** Format: double */
            largest_weight_share: number | null;
        };
        Estimates: {
            ips: components["schemas"]["Estimate"];
            snips: components["schemas"]["Estimate"];
            /** @description Doubly robust. */
            dr: components["schemas"]["Estimate"];
        };
        /**
         * @description * `after_training` - after_training
         *     * `including_training` - including_training
         * @enum {string}
         */
        EvaluatedOnEnum: "after_training" | "including_training";
        /** @description One event. Each is checked on its own: a bad one is listed in `rejected` and does not reject its batch. */
        Event: {
            /** @description The client's id for the event; stored once. */
            event_id: string;
            type: components["schemas"]["EventTypeEnum"];
            /**
             * Format: uuid
             * @description Required: the decision_id /rank answered for what was shown. An event whose decision is not stored (yet) is held outside every count until it is, and dropped if it never is.
             */
            decision_id: string;
            /** @description A variant that decision showed. */
            variant_id: number;
            user_id: string;
            /** @description The placement of that decision. */
            placement: string;
            /**
             * @description Where the variant was shown (1 = first).
             * @default 1
             */
            position: number;
            /**
             * Format: date-time
             * @description When it happened: ISO-8601 with a zone, within the retention window and at most a day ahead.
             */
            ts: string;
            /**
             * @description Why the client moved this variant after /rank logged its decision: the SDK sends "fatigue" on impressions of a decision its fatigue re-rank reordered. `position` is then where it was shown; the decision keeps the slot the policy chose (stored, read by the interaction log).
             *
             *     * `fatigue` - fatigue
             */
            rerank?: components["schemas"]["RerankEnum"];
            /** @description The position /rank gave the variant (`position` is where it was shown). Informative: the slot the policy chose is read from the decision itself. */
            server_position?: number;
            /**
             * Format: double
             * @description With `rerank`: the probability the client's re-rank had of this shown order given the decision's order, above 0 and at most 1. Omitted: 1 (a deterministic re-rank, as the SDK's).
             */
            rerank_probability?: number;
        };
        /**
         * @description * `impression` - impression
         *     * `click` - click
         *     * `conversion` - conversion
         * @enum {string}
         */
        EventTypeEnum: "impression" | "click" | "conversion";
        EventsApiInput: {
            events: components["schemas"]["Event"][];
        };
        EventsApiOutput: {
            /** @description Events stored now (or held for their decision). */
            accepted: number;
            /** @description Events whose event_id was already stored. */
            duplicates: number;
            rejected: components["schemas"]["RejectedEvent"][];
        };
        ExperimentDaily: {
            experiment: string;
            /** @description Oldest day first, then by bucket. */
            days: components["schemas"]["DailyRow"][];
        };
        ExperimentReport: {
            experiment: string;
            placement: string;
            status: components["schemas"]["ExperimentStatusEnum"];
            /** Format: date-time */
            started_at: string;
            /** @description Always `control`: an experiment without it is refused (400). */
            control: string;
            /** @description Whether the headline values are always-valid. */
            sequential: boolean;
            /**
             * @description Which reading `p_value` fields and the dashboard lead with.
             *
             *     * `always_valid` - always_valid
             *     * `fixed_horizon` - fixed_horizon
             */
            headline: components["schemas"]["HeadlineEnum"];
            /**
             * @description How p_value_adjusted is adjusted.
             *
             *     * `holm` - holm
             */
            arms_adjustment: components["schemas"]["ArmsAdjustmentEnum"];
            /** @description By bucket name. */
            buckets: {
                [key: string]: components["schemas"]["BucketReport"];
            };
            /** Format: double */
            srm_p_value: number | null;
            srm_flag: boolean;
            /** Format: double */
            srm_threshold: number;
            cuped: components["schemas"]["CupedSummary"];
            segments: components["schemas"]["SegmentLift"][];
            health: components["schemas"]["LoggingHealth"];
            notes: string;
        };
        /**
         * @description * `running` - Running
         *     * `stopped` - Stopped
         * @enum {string}
         */
        ExperimentStatusEnum: "running" | "stopped";
        /**
         * @description The cached explanation; the fitted fields are there once a job has succeeded (also while a
         *     refresh is pending).
         */
        Explanation: {
            placement: string;
            status: components["schemas"]["ExplanationStatusEnum"];
            rows: number;
            /** Format: date-time */
            computed_at: string | null;
            error: string | null;
            terms?: components["schemas"]["Term"][];
            main_effects?: components["schemas"]["MainEffect"][];
            pairs?: components["schemas"]["Pair"][];
            /** @description Null without an active model. */
            contributions?: components["schemas"]["Contributions"] | null;
            /** Format: double */
            train_seconds?: number;
            /**
             * Format: double
             * @description ROC AUC of the EBM on the later 20% of the rows (it was fitted on the earlier 80%); null when the holdout has no click or only clicks.
             */
            holdout_auc?: number | null;
            holdout_rows?: number;
            /** @description Threads the fit used (KALEIDO_EBM_JOBS). */
            n_jobs?: number;
            /** @description Present when a refresh was asked while a fit is running. */
            detail?: string;
        };
        /**
         * @description * `pending` - Pending
         *     * `ready` - Ready
         *     * `failed` - Failed
         * @enum {string}
         */
        ExplanationStatusEnum: "pending" | "ready" | "failed";
        /**
         * @description * `epsilon_greedy` - epsilon_greedy
         *     * `thompson` - thompson
         * @enum {string}
         */
        ExplorationPolicyEnum: "epsilon_greedy" | "thompson";
        Finding: {
            text: string;
            /** @description The finding as an analyst would repeat it. */
            sentence?: string;
            segment_feature: string;
            segment_value: string;
            tag_group: string;
            tag_value: string;
            /** @description The tag, or every tag always shown with it (a compound finding). */
            tags?: components["schemas"]["FindingTag"][];
            /** @description A compound finding: tags that cannot be told apart. */
            aliased?: boolean;
            direction: components["schemas"]["DirectionEnum"];
            /**
             * Format: double
             * @description The segment's CTR(tag) / CTR.
             */
            normalized_preference: number | null;
            normalized_preference_ci: [
                number | null,
                number | null
            ];
            /** Format: double */
            rest_normalized_preference?: number | null;
            /**
             * Format: double
             * @description The segment's preference for the tag against the rest's (see the cell's field; marginal findings: absent).
             */
            relative_preference?: number;
            /** @description 95%, per-user variance. */
            relative_preference_ci?: [
                number | null,
                number | null
            ];
            impressions: number;
            /** Format: double */
            p_value?: number | null;
            /** Format: double */
            q_value: number;
            /** @description In explained_findings: the user feature whose own findings on this tag account for this one. */
            explained_by?: string;
        };
        FindingTag: {
            group: string;
            value: string;
        };
        GalleryVariant: {
            id: number;
            variant_key: string;
            status: components["schemas"]["VariantStatusEnum"];
            pinned: boolean;
            blocked: boolean;
            is_control: boolean;
            tags: {
                [key: string]: string[];
            };
            headline: string;
            subline: string;
            cta: string;
            language: string;
            image_url: string;
            impressions: number;
            clicks: number;
            /**
             * Format: double
             * @description Null when never shown.
             */
            ctr: number | null;
            /** @description The variant's render spec. */
            render: {
                [key: string]: unknown;
            };
        };
        /**
         * @description * `always_valid` - always_valid
         *     * `fixed_horizon` - fixed_horizon
         * @enum {string}
         */
        HeadlineEnum: "always_valid" | "fixed_horizon";
        Identifiability: {
            placement: string;
            live_variants: number;
            tag_values: number;
            /** @description Every tag effect can be told apart from every other. */
            identifiable: boolean;
            /** @description Rank of the live catalogue's design matrix (intercept + tags). */
            rank: number;
            /** @description The rank a fully identifiable catalogue has. */
            parameters: number;
            tags: components["schemas"]["TagIdentifiability"][];
            aliases: components["schemas"]["Alias"][];
            on_every_variant: string[];
            /** @description Dependencies beyond aliased pairs and constant tags. */
            other_dependencies: number;
            notes: string[];
        };
        /**
         * @description * `bca_bootstrap_by_user` - bca_bootstrap_by_user
         *     * `betting_by_user` - betting_by_user
         * @enum {string}
         */
        IntervalMethodEnum: "bca_bootstrap_by_user" | "betting_by_user";
        /**
         * @description * `model` - model
         *     * `variants` - variants
         * @enum {string}
         */
        KindEnum: "model" | "variants";
        Lift: {
            /**
             * Format: double
             * @description Treatment minus control.
             */
            absolute: number | null;
            /** @description Fixed-horizon 95% interval of the absolute lift. */
            absolute_ci: [
                number | null,
                number | null
            ];
            /** @description Always-valid 95% confidence sequence of the absolute lift. */
            absolute_cs: [
                number | null,
                number | null
            ];
            /**
             * Format: double
             * @description Treatment / control − 1.
             */
            relative: number | null;
            /** @description Fixed-horizon 95% interval of the relative lift. */
            relative_ci: [
                number | null,
                number | null
            ];
            /** @description Always-valid 95% confidence sequence of the relative lift. */
            relative_cs: [
                number | null,
                number | null
            ];
            /**
             * Format: double
             * @description The headline two-sided p-value of the absolute lift: always-valid when the report is sequential (the default), else fixed-horizon.
             */
            p_value: number | null;
            /**
             * Format: double
             * @description Two-sided normal p-value (delta method), valid at one planned look only.
             */
            p_value_fixed_horizon: number | null;
            /**
             * Format: double
             * @description Mixture-SPRT p-value: ≤ 0.05 exactly when absolute_cs excludes 0; safe to read daily.
             */
            p_value_always_valid: number | null;
            /**
             * Format: double
             * @description The headline p-value, Holm-adjusted across the report's treatment arms.
             */
            p_value_adjusted: number | null;
        };
        LoggingHealth: {
            impressions: number;
            /** Format: double */
            share_with_bucket_and_propensity: number | null;
            decisions_checked: number;
            /** Format: double */
            propensities_valid_share: number | null;
            propensity_problems_by_bucket: {
                [key: string]: number;
            };
            /**
             * Format: double
             * @description Chi-square over the variants eligible at every random decision.
             */
            random_bucket_uniform_p_value: number | null;
            /** @description Variants in the uniformity check. */
            random_bucket_variants: number;
            /** @description Variants with random-bucket impressions left out of the check (pinned, published or changed during the experiment, or no longer live). */
            random_bucket_variants_not_eligible: number;
            users_in_more_than_one_bucket: number;
        };
        MainEffect: {
            name: string;
            type: components["schemas"]["TermTypeEnum"];
            features: string[];
            /** Format: double */
            importance: number;
            shape: components["schemas"]["MainEffectShape"];
        };
        MainEffectShape: {
            /** @description Bin edges (numbers) or categories. */
            names: ((string | number) | null)[];
            scores: (number | null)[];
            /**
             * Format: double
             * @description The score of rows without this feature (missing).
             */
            missing_score?: number | null;
        };
        MetaExperiment: {
            slug: string;
            placement: string;
            status: components["schemas"]["ExperimentStatusEnum"];
            /** @description Bucket → configured share. */
            buckets: {
                [key: string]: number;
            };
            /** Format: date-time */
            started_at: string;
            /** Format: date-time */
            stopped_at: string | null;
        };
        MetaPlacement: {
            slug: string;
            name: string;
            surface: components["schemas"]["SurfaceEnum"];
            width: number;
            height: number;
            default_mode: components["schemas"]["DefaultModeEnum"];
        };
        MetaTagGroup: {
            name: string;
            layer: string;
            values: string[];
        };
        /**
         * @description * `ctr` - ctr
         *     * `cvr` - cvr
         * @enum {string}
         */
        MetricEnum: "ctr" | "cvr";
        ModelList: {
            placement: string | null;
            /** @description Newest first: the placement's and the general ones. */
            versions: components["schemas"]["ModelRow"][];
            /** @description Whether this user may activate and roll back. */
            can_manage: boolean;
        };
        ModelRollbackApiInput: {
            /** @description Empty rolls back the general model. */
            placement?: string;
        };
        ModelRow: {
            version: string;
            /** @description Null for a general model. */
            placement: string | null;
            scope: components["schemas"]["ScopeEnum"];
            algo: components["schemas"]["AlgoEnum"];
            rows: number;
            /** Format: double */
            positive_rate: number | null;
            /** Format: double */
            auc: number | null;
            /** Format: double */
            logloss: number | null;
            /** Format: double */
            calibration_error: number | null;
            /** Format: double */
            train_seconds: number;
            is_active: boolean;
            /** Format: date-time */
            activated_at: string | null;
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            data_from: string | null;
            /** Format: date-time */
            data_to: string | null;
            /** @description The training holdout's curve; null for versions trained before it was stored. */
            holdout_calibration: components["schemas"]["CalibrationPoint"][] | null;
            /** @description The curve on the traffic it served. */
            live_calibration: components["schemas"]["CalibrationPoint"][];
        };
        ModelState: {
            version: string;
            is_active: boolean;
        };
        /**
         * @description * `ctr` - ctr
         *     * `cvr` - cvr
         *     * `fallback_rate` - fallback_rate
         *     * `scoring_latency` - scoring_latency
         *     * `sample_ratio` - sample_ratio
         * @enum {string}
         */
        NameEnum: "ctr" | "cvr" | "fallback_rate" | "scoring_latency" | "sample_ratio";
        OffPolicyEstimate: {
            placement: string;
            model_version: string;
            logged_buckets: string[];
            rows: number;
            /** @description Distinct users among the rows: the bootstrap's unit. */
            users: number;
            /** @description The serving policy evaluated (ranking.serving.model_policy). */
            target: components["schemas"]["OpeTarget"];
            /**
             * @description What each estimate's `ci` is: BCa, or the betting interval when the weights are heavy.
             *
             *     * `bca_bootstrap_by_user` - bca_bootstrap_by_user
             *     * `betting_by_user` - betting_by_user
             */
            interval_method: components["schemas"]["IntervalMethodEnum"];
            /** @description A finite-sample 95% interval for the target's CTR that holds however heavy the importance weights (testing by betting, users as the unit); conservative, so wider than BCa. */
            guaranteed_ci: [
                number | null,
                number | null
            ];
            clipped_ips: components["schemas"]["ClippedIps"];
            /** @description Live variants the target can show that no evaluated row shows. */
            unsupported_variants: components["schemas"]["UnsupportedVariant"][];
            warnings: string[];
            evaluated_on: components["schemas"]["EvaluatedOnEnum"];
            rows_after_training: number;
            training_window: [
                string | null,
                string | null
            ];
            candidates: number;
            /** Format: double */
            epsilon: number;
            /** Format: double */
            logged_ctr: number;
            estimates: components["schemas"]["Estimates"];
            /** Format: double */
            direct_method_ctr: number | null;
            active_model: components["schemas"]["OnlineCtr"];
            notes: string;
        };
        OnlineCtr: {
            /** @description The active model; null without one. */
            model_version: string | null;
            impressions: number;
            clicks: number;
            /** Format: double */
            ctr: number | null;
            ctr_ci: [
                number | null,
                number | null
            ];
            /**
             * Format: date-time
             * @description Absent without an active model.
             */
            since?: string;
        };
        OpeTarget: {
            exploration_policy: components["schemas"]["ExplorationPolicyEnum"];
            /**
             * Format: double
             * @description Weight of uniform exploration in the serving mixture.
             */
            epsilon: number;
            /**
             * Format: double
             * @description Weight of the new-variant component (0 without one).
             */
            new_variant_share: number;
            /** @description Variants below the placement's impression threshold. */
            new_variants: number;
            /** @description Pinned variant keys; the first holds position 1. */
            pinned: string[];
            /** @description Posterior draws the policy picks from (0 for ε-greedy). */
            thompson_draws: number;
        };
        Pair: {
            name: string;
            type: components["schemas"]["TermTypeEnum"];
            features: string[];
            /** Format: double */
            importance: number;
            shape: components["schemas"]["PairShape"];
        };
        PairShape: {
            left_names: ((string | number) | null)[];
            right_names: ((string | number) | null)[];
            scores: (number | null)[][];
        };
        RankApiInput: {
            placement: string;
            user: components["schemas"]["RankApiInputUser"];
            /** @default 1 */
            k: number;
            /** @description An open map: keys of 1 to 64 characters, values a string (at most 200 characters), a number or a boolean; nothing nested. */
            context?: {
                [key: string]: string | number | boolean;
            };
        };
        RankApiInputUser: {
            id: string;
            /** @description An open map: keys of 1 to 64 characters, values a string (at most 200 characters), a number or a boolean; nothing nested. */
            features?: {
                [key: string]: string | number | boolean;
            };
        };
        RankApiOutput: {
            decision_id: string;
            placement: string;
            bucket: components["schemas"]["BucketEnum"];
            experiment: string | null;
            model_version: string;
            items: components["schemas"]["RankApiOutputItem"][];
        };
        RankApiOutputItem: {
            variant_id: number;
            variant_key: string;
            rank: number;
            /** Format: double */
            score: number | null;
            /** Format: double */
            propensity: number;
            /** @description Tag group → values, e.g. {"button_color": ["red"]}. */
            tags: {
                [key: string]: string[];
            };
            /** @description The rendered image's absolute URL; empty when none. */
            image_url: string;
            /** @description How to draw the variant natively. Every field is optional: a variant stores what its creative has, and more fields may be added. */
            render: {
                /** @description e.g. single_image_text. */
                layout?: string;
                headline?: string;
                subline?: string;
                cta?: string;
                language?: string;
                colors?: {
                    /** @description A CSS colour, e.g. #E8322E. */
                    button?: string;
                    /** @description A CSS colour, e.g. #E8322E. */
                    button_text?: string;
                    /** @description A CSS colour, e.g. #E8322E. */
                    background?: string;
                    /** @description A CSS colour, e.g. #E8322E. */
                    text?: string;
                } & {
                    [key: string]: string;
                };
                font_scale?: number;
                text_position?: string;
                background_style?: string;
                image_url?: string;
                /** @description The copy lines that state live numbers, by line (headline, subline, cta): their template, static fallback and placeholder names. The line's own field is already answered as it is to be displayed. */
                dynamic?: {
                    [key: string]: {
                        template: string;
                        fallback: string;
                        placeholders: string[];
                    };
                };
                /** @description With `dynamic`: the lines this answer shows with live values (a line absent here shows its static fallback), each with its text and the value shown per placeholder. */
                filled?: {
                    [key: string]: {
                        text: string;
                        shown: {
                            [key: string]: string;
                        };
                        values: {
                            [key: string]: number;
                        };
                    };
                };
                /** @description Where the server's composition put each text and the button, to draw the variant natively over its textless `background` (the SDK's renderBanner). Boxes are [left, top, right, bottom] and positions fractions of the canvas; sizes fractions of its height. */
                frame?: {
                    width: number;
                    height: number;
                    template?: string;
                    /** @description URL of the composition without its text. */
                    background?: string;
                    blocks: {
                        /** @description headline, subline or cta. */
                        name: string;
                        text: string;
                        box: [
                            number,
                            number,
                            number,
                            number
                        ];
                        weight?: number;
                        size: number;
                        line_height?: number;
                        /** @description A CSS colour, e.g. #E8322E. */
                        color?: string;
                        lines: {
                            text: string;
                            x: number;
                            /** @description At the font's ascender. */
                            y: number;
                        }[];
                    }[];
                    button?: {
                        box?: [
                            number,
                            number,
                            number,
                            number
                        ];
                        /** @description A CSS colour, e.g. #E8322E. */
                        color?: string;
                        /** @description A CSS colour, e.g. #E8322E. */
                        text?: string;
                    };
                };
            } & {
                [key: string]: unknown;
            };
            /** @description An operator pinned this variant: it leads every bucket; a client re-rank must keep it. */
            pinned: boolean;
        };
        RejectedEvent: {
            /** @description The event's index in the request's `events`. */
            index: number;
            /** @description `field: problem`. */
            error: string;
        };
        /**
         * @description * `fatigue` - fatigue
         * @enum {string}
         */
        RerankEnum: "fatigue";
        Rollout: {
            id: number;
            kind: components["schemas"]["KindEnum"];
            placement: string;
            /** @description The model ramped; null for a variant ramp. */
            candidate: string | null;
            /** @description A variant ramp's variants (hidden outside its arm). */
            variant_ids: number[];
            /** @description Null: no model served, the control design did. */
            incumbent: string | null;
            status: components["schemas"]["RolloutStatusEnum"];
            steps: number[];
            step: number;
            /**
             * Format: double
             * @description The candidate's share of the model bucket's users now (0 once ended).
             */
            share: number;
            min_dwell_s: number;
            min_impressions: number;
            /** Format: date-time */
            started_at: string;
            /** Format: date-time */
            step_started_at: string;
            /** Format: date-time */
            finished_at: string | null;
            started_by: string;
            /** @description Why it ended; empty while ramping. */
            reason: string;
            last_check: components["schemas"]["RolloutCheck"] | null;
            history: {
                [key: string]: unknown;
            }[];
        };
        RolloutCheck: {
            rollout_id: number;
            /** Format: date-time */
            at: string;
            /** @description 0-based index into steps. */
            step: number;
            /** Format: double */
            share: number;
            candidate_users: number;
            incumbent_users: number;
            candidate_impressions: number;
            incumbent_impressions: number;
            /** Format: double */
            dwell_s: number;
            guardrails: components["schemas"]["RolloutGuardrail"][];
            action: components["schemas"]["ActionEnum"];
            reason: string;
        };
        RolloutGuardrail: {
            name: components["schemas"]["NameEnum"];
            passed: boolean;
            /** @description False: not enough data yet (a guardrail not measured never fails). */
            measured: boolean;
            /** Format: double */
            value: number | null;
            /** @description [low, high]; for CTR/CVR the always-valid interval of the difference. */
            interval: (number | null)[] | null;
            /** Format: double */
            limit: number | null;
            detail: string;
        };
        RolloutList: {
            placement: string | null;
            /** @description Newest first, at most 20. */
            rollouts: components["schemas"]["Rollout"][];
            /** @description Whether this user may start and cancel ramps. */
            can_manage: boolean;
        };
        RolloutStartApiInput: {
            /** @description Shares of the model bucket's users, increasing (default 5%, 20%, 50%). */
            steps?: number[];
            min_dwell_s?: number;
            min_impressions?: number;
            /**
             * @description Start although the activation gate refuses (kept in the ramp's history and the version's registry entry).
             * @default false
             */
            force: boolean;
        };
        /**
         * @description * `ramping` - ramping
         *     * `completed` - completed
         *     * `rolled_back` - rolled_back
         *     * `cancelled` - cancelled
         * @enum {string}
         */
        RolloutStatusEnum: "ramping" | "completed" | "rolled_back" | "cancelled";
        /**
         * @description * `dedicated` - Dedicated (one placement)
         *     * `general` - General (all placements)
         * @enum {string}
         */
        ScopeEnum: "dedicated" | "general";
        SegmentContribution: {
            term: string;
            /** Format: double */
            mean_contribution: number;
        };
        SegmentLift: {
            feature: string;
            /** @description The user's segment at first exposure (fixed for the experiment). */
            value: string;
            bucket: string;
            metric: components["schemas"]["MetricEnum"];
            /** @description Users of the two arms in this segment; each user counts once. */
            users: number;
            /** Format: double */
            relative_lift: number | null;
            /** @description Fixed-horizon 95%. */
            relative_lift_ci: [
                number | null,
                number | null
            ];
            /** @description Always-valid 95%. */
            relative_lift_cs: [
                number | null,
                number | null
            ];
            /** Format: double */
            absolute_lift: number | null;
            /**
             * Format: double
             * @description The headline p-value (always-valid when the report is sequential).
             */
            p_value: number | null;
            /** Format: double */
            p_value_fixed_horizon: number | null;
            /**
             * Format: double
             * @description Benjamini–Hochberg across every segment, bucket and metric of the report.
             */
            q_value: number | null;
            significant: boolean;
        };
        SkippedFeature: {
            feature: string;
            /** @description Distinct values in the impressions read. */
            levels: number;
            reason: string;
        };
        /**
         * @description * `banner` - Banner
         *     * `card` - Card
         *     * `popup` - Pop-up
         *     * `feed` - Feed item
         * @enum {string}
         */
        SurfaceEnum: "banner" | "card" | "popup" | "feed";
        TagIdentifiability: {
            group: string;
            value: string;
            variants: number;
            identifiable: boolean;
            aliased_with: string[];
        };
        Term: {
            name: string;
            type: components["schemas"]["TermTypeEnum"];
            features: string[];
            /** Format: double */
            importance: number;
        };
        /**
         * @description * `main` - main
         *     * `pair` - pair
         * @enum {string}
         */
        TermTypeEnum: "main" | "pair";
        UnsupportedVariant: {
            variant_key: string;
            /**
             * Format: double
             * @description The target's mean probability of showing it at position 1.
             */
            target_share: number;
        };
        VariantGallery: {
            placement: string;
            /** @description Best observed CTR first. */
            variants: components["schemas"]["GalleryVariant"][];
            /** @description Status → variants. */
            status_counts: {
                [key: string]: number;
            };
        };
        /**
         * @description * `draft` - Draft
         *     * `approved` - Approved
         *     * `live` - Live
         *     * `paused` - Paused
         *     * `retired` - Retired
         * @enum {string}
         */
        VariantStatusEnum: "draft" | "approved" | "live" | "paused" | "retired";
        /**
         * @description * `none` - none
         *     * `inverse_propensity` - inverse_propensity
         * @enum {string}
         */
        WeightingEnum: "none" | "inverse_propensity";
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    api_v1_events_create: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["EventsApiInput"];
                "application/x-www-form-urlencoded": components["schemas"]["EventsApiInput"];
                "multipart/form-data": components["schemas"]["EventsApiInput"];
            };
        };
        responses: {
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["EventsApiOutput"];
                };
            };
            /** @description Invalid request: `errors` names each offending field and its messages. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorAnswer"];
                };
            };
            /** @description No API key, or an unknown or revoked one. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorAnswer"];
                };
            };
            /** @description The key lacks the scope this endpoint needs, or may not use this placement. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorAnswer"];
                };
            };
            /** @description The body is over the size limit. */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorAnswer"];
                };
            };
            /** @description Rate limited: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    /** @description Seconds to wait before retrying. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorAnswer"];
                };
            };
            /** @description The database is unavailable and nothing was stored: retry after `Retry-After` seconds. */
            503: {
                headers: {
                    /** @description Seconds to wait before retrying. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorAnswer"];
                };
            };
        };
    };
    api_v1_experiments_report_retrieve: {
        parameters: {
            query?: {
                /** @description Include per-segment lifts. */
                segments?: boolean;
                /** @description Headline p-values always-valid (default, safe to read daily); false makes the fixed-horizon ones the headline. Both are always in the answer. */
                sequential?: boolean;
            };
            header?: never;
            path: {
                slug: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ExperimentReport"];
                };
            };
            /** @description Invalid request: `errors` names each offending field and its messages. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorAnswer"];
                };
            };
        };
    };
    api_v1_placements_attribution_retrieve: {
        parameters: {
            query: {
                buckets?: string;
                days?: number;
                min_support?: number;
                segment: string;
                tag_group: string;
            };
            header?: never;
            path: {
                slug: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Attribution"];
                };
            };
            /** @description Invalid request: `errors` names each offending field and its messages. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorAnswer"];
                };
            };
        };
    };
    api_v1_placements_explain_retrieve: {
        parameters: {
            query?: {
                refresh?: boolean;
            };
            header?: never;
            path: {
                slug: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Explanation"];
                };
            };
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Explanation"];
                };
            };
        };
    };
    api_v1_placements_identifiability_retrieve: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                slug: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Identifiability"];
                };
            };
        };
    };
    api_v1_placements_ope_retrieve: {
        parameters: {
            query: {
                buckets?: string;
                clip?: number;
                days?: number;
                include_training?: boolean;
                model_version: string;
            };
            header?: never;
            path: {
                slug: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OffPolicyEstimate"];
                };
            };
        };
    };
    api_v1_rank_create: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RankApiInput"];
                "application/x-www-form-urlencoded": components["schemas"]["RankApiInput"];
                "multipart/form-data": components["schemas"]["RankApiInput"];
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RankApiOutput"];
                };
            };
            /** @description Invalid request: `errors` names each offending field and its messages. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorAnswer"];
                };
            };
            /** @description No API key, or an unknown or revoked one. */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorAnswer"];
                };
            };
            /** @description The key lacks the scope this endpoint needs, or may not use this placement. */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorAnswer"];
                };
            };
            /** @description Unknown placement. */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorAnswer"];
                };
            };
            /** @description The placement has no live variant. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorAnswer"];
                };
            };
            /** @description The body is over the size limit. */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorAnswer"];
                };
            };
            /** @description Rate limited: retry after `Retry-After` seconds. */
            429: {
                headers: {
                    /** @description Seconds to wait before retrying. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorAnswer"];
                };
            };
            /** @description The database is unavailable and nothing was stored: retry after `Retry-After` seconds. */
            503: {
                headers: {
                    /** @description Seconds to wait before retrying. */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorAnswer"];
                };
            };
        };
    };
    dashboard_api_experiments_daily_retrieve: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                slug: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ExperimentDaily"];
                };
            };
        };
    };
    dashboard_api_meta_retrieve: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DashboardMeta"];
                };
            };
        };
    };
    dashboard_api_models_retrieve: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ModelList"];
                };
            };
        };
    };
    dashboard_api_models_activate_create: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                version: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ModelState"];
                };
            };
        };
    };
    dashboard_api_models_rollout_create: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                version: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["RolloutStartApiInput"];
                "application/x-www-form-urlencoded": components["schemas"]["RolloutStartApiInput"];
                "multipart/form-data": components["schemas"]["RolloutStartApiInput"];
            };
        };
        responses: {
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Rollout"];
                };
            };
        };
    };
    dashboard_api_models_rollback_create: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["ModelRollbackApiInput"];
                "application/x-www-form-urlencoded": components["schemas"]["ModelRollbackApiInput"];
                "multipart/form-data": components["schemas"]["ModelRollbackApiInput"];
            };
        };
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ModelState"];
                };
            };
        };
    };
    dashboard_api_rollouts_retrieve: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RolloutList"];
                };
            };
        };
    };
    dashboard_api_rollouts_cancel_create: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                rollout_id: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Rollout"];
                };
            };
        };
    };
    dashboard_api_variants_retrieve: {
        parameters: {
            query: {
                placement: string;
                q?: string;
                /**
                 * @description * `draft` - Draft
                 *     * `approved` - Approved
                 *     * `live` - Live
                 *     * `paused` - Paused
                 *     * `retired` - Retired
                 */
                status?: "draft" | "approved" | "live" | "paused" | "retired" | "";
                tag?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VariantGallery"];
                };
            };
        };
    };
}
