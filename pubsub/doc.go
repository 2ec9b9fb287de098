package pubsub
