# The events: one message per finished operation (CloudEvents binary binding), no schema.

resource "google_pubsub_topic" "events" {
  # checkov:skip=CKV_GCP_83:Events carry operation metadata, not conversation content; Google-managed encryption is adequate, and CMEK would add a key (and grants to the Pub/Sub service agent) the user must manage.
  name = "${var.name}-events"

  # Retained messages let a subscription created later (or one seeked back) read past events.
  message_retention_duration = var.topic_message_retention_seconds > 0 ? "${var.topic_message_retention_seconds}s" : null

  depends_on = [google_project_service.main]
}

# An example subscription, with a dead-letter topic for messages its subscriber keeps failing.
resource "google_pubsub_topic" "dead_letter" {
  # checkov:skip=CKV_GCP_83:Same content as the events topic: Google-managed encryption is adequate.
  count = var.create_example_subscription ? 1 : 0

  name                       = "${var.name}-events-dead-letter"
  message_retention_duration = "604800s"

  depends_on = [google_project_service.main]
}

resource "google_pubsub_subscription" "example" {
  count = var.create_example_subscription ? 1 : 0

  name                       = "${var.name}-events-example"
  topic                      = google_pubsub_topic.events.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = "" # never expires, even while nobody pulls
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[0].id
    max_delivery_attempts = var.example_subscription_max_delivery_attempts
  }

  depends_on = [google_pubsub_topic_iam_member.dead_letter_publisher]
}

# A topic without a subscription drops what is published to it: this one keeps the dead letters.
resource "google_pubsub_subscription" "dead_letter" {
  count = var.create_example_subscription ? 1 : 0

  name                       = "${var.name}-events-dead-letter"
  topic                      = google_pubsub_topic.dead_letter[0].id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }
}
