"""PPO agents (Stable-Baselines3, sb3-contrib) for liqenv."""
