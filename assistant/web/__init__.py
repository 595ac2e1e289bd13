"""The web: the Gradio app (ui) with its chat (chat, render), admin tab (admin_tab), feedback
store (feedback) and the ASGI gatekeeper in front of it all (gate)."""
