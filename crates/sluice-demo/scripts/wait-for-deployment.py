# Workflow 3: poll #deployments in code; only the final message comes back.
from servers.chat import get_channel_history

found = {"polls": 0, "message": None}
for poll in range(1, 51):
    history = await get_channel_history(channel="#deployments", limit=5)
    messages = history["messages"]
    latest = messages[-1] if messages else None
    found = {"polls": poll, "message": None}
    if latest and latest["text"].startswith("Deployment complete"):
        found = {"polls": poll, "message": latest["text"]}
        break
    await sleep(0.2)
found
