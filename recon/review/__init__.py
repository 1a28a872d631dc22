"""`recon review`: the page where controllers confirm, reject and resolve, for the next run to honour.

The queue reads the marts (suggested matches, exceptions that require review); decisions go to
the review's own append-only, hash-chained store beside the warehouse (recon.review.store), which
`recon run` loads into `raw_decisions` beside the CSV decisions. Sign-in from a users file
(recon.review.users); the session secret from RECON_REVIEW_SECRET or a generated file beside
the warehouse. The auto-accept policy (recon.review.policy) is set on the same page by an admin
and kept in the same store; the autonomy page (recon.review.autonomy) measures what it does. See
DECISIONLOG.md, "The review page" and "Autonomy with evidence".
"""
