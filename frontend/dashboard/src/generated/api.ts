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
        /** @description Segment × tag grid with normalized preference, and the ranked findings in plain words. */
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
         * @description * `lightgbm` - LightGBM
         *     * `logreg` - Logistic regression
         * @enum {string}
         */
        AlgoEnum: "lightgbm" | "logreg";
        Attribution: {
            placement: string;
            segment: string;
            tag_group: string;
            buckets: string[];
            weighting: components["schemas"]["WeightingEnum"];
            impressions: number;
            min_support: number;
            cells: components["schemas"]["AttributionCell"][];
            findings: components["schemas"]["Finding"][];
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
             * @description Benjamini–Hochberg within the grid; null for a cell that was not tested.
             */
            q_value: number | null;
        };
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
            ctr_ci: [
                number | null,
                number | null
            ];
            ctr_cs: [
                number | null,
                number | null
            ];
            /**
             * Format: double
             * @description Conversions / clicks.
             */
            cvr: number | null;
            cvr_ci: [
                number | null,
                number | null
            ];
            /** @description Null on the control bucket. */
            lift_vs_control: components["schemas"]["Lift"] | null;
            /**
             * Format: double
             * @description The p-value of lift_vs_control.
             */
            p_value: number | null;
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
        /** @description The active model's contributions by segment, or `{model_version, error}` when it has none. */
        Contributions: {
            model_version: string;
            error?: string;
            rows?: number;
            /** @description log-odds */
            scale?: string;
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
            /** Format: double */
            ctr: number;
            /** @description Bootstrap 95% interval over decisions. */
            ci: [
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
             * @description Sent by the SDK on impressions of a decision its fatigue re-rank reordered. Accepted and not stored today.
             *
             *     * `fatigue` - fatigue
             */
            rerank?: components["schemas"]["RerankEnum"];
            /** @description With `rerank`: the position /rank gave the variant (`position` is where it was shown). Accepted and not stored today. */
            server_position?: number;
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
            /** @description The bucket the others are compared with. */
            control: string;
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
        Finding: {
            text: string;
            segment_feature: string;
            segment_value: string;
            tag_group: string;
            tag_value: string;
            direction: components["schemas"]["DirectionEnum"];
            /** Format: double */
            normalized_preference: number;
            normalized_preference_ci: [
                number | null,
                number | null
            ];
            impressions: number;
            /** Format: double */
            q_value: number;
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
            relative_ci: [
                number | null,
                number | null
            ];
            /**
             * Format: double
             * @description Two-sided, of the absolute lift (delta method).
             */
            p_value: number | null;
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
            /** Format: double */
            random_bucket_uniform_p_value: number | null;
            random_bucket_variants: number;
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
        OffPolicyEstimate: {
            placement: string;
            model_version: string;
            logged_buckets: string[];
            rows: number;
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
            direct_method_ctr: number;
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
            value: string;
            bucket: string;
            metric: components["schemas"]["MetricEnum"];
            users: number;
            /** Format: double */
            relative_lift: number | null;
            /** Format: double */
            absolute_lift: number | null;
            /** Format: double */
            p_value: number | null;
            /**
             * Format: double
             * @description Benjamini–Hochberg across every segment, bucket and metric of the report.
             */
            q_value: number | null;
            significant: boolean;
        };
        /**
         * @description * `banner` - Banner
         *     * `card` - Card
         *     * `popup` - Pop-up
         *     * `feed` - Feed item
         * @enum {string}
         */
        SurfaceEnum: "banner" | "card" | "popup" | "feed";
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
    api_v1_placements_ope_retrieve: {
        parameters: {
            query: {
                buckets?: string;
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
