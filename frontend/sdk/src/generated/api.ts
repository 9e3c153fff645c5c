/**
 * Kaleido's public API (rank and events) as TypeScript types, generated from the server's /api/schema/.
 * Do not edit: run `npm run generate:api --workspace dashboard` (in frontend/) after changing a serializer.
 */
export interface paths {
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
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /**
         * @description * `control` - control
         *     * `random` - random
         *     * `model` - model
         * @enum {string}
         */
        BucketEnum: "control" | "random" | "model";
        /** @description Every error answer: what went wrong in `detail`, and on a 400 each offending field in `errors`. */
        ErrorAnswer: {
            /** @description What went wrong, in words. */
            detail: string;
            /** @description Only on 400: each offending field and its messages (a list of strings; a nested field's messages nest the same way, a list item's under its index). */
            errors?: {
                [key: string]: unknown;
            };
        };
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
            position?: number;
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
        RankApiInput: {
            placement: string;
            user: components["schemas"]["RankApiInputUser"];
            /** @default 1 */
            k?: number;
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
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
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
}
