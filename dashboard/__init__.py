"""Web pages over the indexer: today the public pack check; the regulator's dashboard next
(docs/design/issue-18-plan.md). Server-rendered (Jinja2), everything served locally, mounted on
the indexer's app by ``dashboard.app.mount`` so the indexer itself stays a headless mirror."""
