"""Study Mode: the tutor product itself (versioned overlay prompts, learner context, replay across arms, chat)."""
