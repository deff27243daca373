"""Redemption: from a RedeemRequested to one RedeemResult and its reward grants."""
