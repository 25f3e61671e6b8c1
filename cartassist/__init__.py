"""CartAssist. The Celery app lives in cartassist.celery and is loaded when Django starts
(CartAssistConfig.ready), so that ``import cartassist.client`` pulls in neither Django nor
Celery; ``celery -A cartassist`` finds ``cartassist.celery:app`` by itself."""
