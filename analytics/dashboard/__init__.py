"""The analysts' dashboard, Django side: the page that loads the Vite-built app (`views`), its read
endpoints and the staff-only model actions (`apis`: activate, roll back, ramp), the reads they need
beyond the report APIs (`selectors`) and the typed answers (`serializers`). Routed under /dashboard/.

The templates stay in `analytics/templates/dashboard/`, where analytics' app template folder finds them.
"""
