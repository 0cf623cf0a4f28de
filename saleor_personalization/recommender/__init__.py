"""Recommendations: a LightFM hybrid blended with co-purchase, repurchase and trend signals.

Training, evaluation, promotion and scoring run in Celery (``tasks.recommender``);
serving reads the precomputed :class:`~saleor_personalization.models.RecommendationList`
rows through :mod:`.serving`.
"""
