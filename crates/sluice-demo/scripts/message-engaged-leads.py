# Workflow 5: message every lead with EngagementScore >= 90; only the count comes back.
import asyncio
from servers.crm import query
from servers.chat import send_message

found = await query(objectType="Lead", where={"EngagementScore": {"gte": 90}})
leads = found["records"]
if found["totalSize"] != len(leads):
    raise RuntimeError(f"the query returned {len(leads)} of {found['totalSize']} engaged leads")
await asyncio.gather(*[
    send_message(
        channel="@" + lead["Email"].split("@")[0],
        text=f"Hi {lead['Name'].split(' ')[0]}, thanks for your interest in Sluice. Could we book 20 minutes this week to talk about {lead['Company']}'s plans?",
    )
    for lead in leads
])
{"messaged": len(leads), "leads": len(leads)}
