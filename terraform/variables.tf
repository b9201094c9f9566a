variable "project_id" {
  type        = string
  description = "The Google Cloud project to deploy into; its Insights operations are the ones watched."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6-30 lowercase letters, digits and hyphens), not a project number or name."
  }
}

variable "region" {
  type        = string
  description = "Region of the function, its schedule, its source bucket and image repository (and of the Firestore database unless firestore_location_id is set)."
  default     = "us-central1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as us-central1."
  }
}

variable "name" {
  type        = string
  description = "Base name of every resource, and what sets two deployments in one project (shards, e.g. one per Insights location) apart: the function and Cloud Run service, the scheduler job, topics and subscriptions (NAME-events...), service accounts (NAME-run, NAME-invoker, NAME-build), the custom role, bucket, image repository, log-based metrics (NAME/...), alert policies and dashboard, and by default the Firestore database and collection."
  default     = "insights-poller"

  # The longest derived ID is the service account NAME-invoker: 20 + 8 = 28 characters, within
  # the 6-30 an account ID allows (and NAME-run, from 7, above its minimum).
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.name))
    error_message = "name must be 3-20 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen (service account IDs, at most 30 characters, are built from it)."
  }
}

variable "insights_locations" {
  type        = list(string)
  description = "Insights locations whose operations are watched (INSIGHTS_LOCATIONS)."
  default     = ["us-central1"]

  validation {
    condition     = length(var.insights_locations) > 0 && alltrue([for location in var.insights_locations : can(regex("^[a-z][a-z0-9-]{0,62}$", location))])
    error_message = "insights_locations must list at least one location ID such as us-central1."
  }
}

variable "schedule" {
  type        = string
  description = "How often Cloud Scheduler triggers a poll, in unix-cron format."
  default     = "*/5 * * * *"

  validation {
    condition     = length(split(" ", trimspace(var.schedule))) == 5
    error_message = "schedule must be a unix-cron expression with five fields, such as \"*/5 * * * *\"."
  }
}

variable "schedule_time_zone" {
  type        = string
  description = "Time zone of the schedule (a tz database name)."
  default     = "Etc/UTC"
}

variable "scheduler_retry_count" {
  type        = number
  description = "How many times Cloud Scheduler retries a poll that failed (answered 5xx or timed out) before the next scheduled run."
  default     = 1

  validation {
    condition     = var.scheduler_retry_count >= 0 && var.scheduler_retry_count <= 5 && floor(var.scheduler_retry_count) == var.scheduler_retry_count
    error_message = "scheduler_retry_count must be a whole number from 0 to 5."
  }
}

variable "function_timeout_seconds" {
  type        = number
  description = "How long one invocation (a poll and its follow-ups) may run, in seconds. The poller's POLL_BUDGET_SECONDS is 60 s less (above 540 s, raise CLAIM_LEASE_SECONDS in poller_settings past it), and the follow-up window at most POLL_BUDGET_SECONDS - PUBLISH_TIMEOUT_SECONDS: the default 420 s (a budget of 360 s) lets follow-ups cover the default 5-minute period. The scheduler's attempt deadline is 30 s more, and Cloud Scheduler allows at most 1800 s."
  default     = 420

  validation {
    condition     = var.function_timeout_seconds >= 180 && var.function_timeout_seconds <= 1770 && floor(var.function_timeout_seconds) == var.function_timeout_seconds
    error_message = "function_timeout_seconds must be a whole number from 180 to 1770."
  }
}

variable "follow_up_window_seconds" {
  type        = number
  description = "How long, in seconds from its start, an invocation keeps re-checking the operations its poll left pending (every FOLLOW_UP_SECONDS, a poller_setting) and publishes those that finish: FOLLOW_UP_WINDOW_SECONDS. Null: the time between two ticks of the schedule less 10 s, for a schedule of the form \"* * * * *\" or \"*/N * * * *\" (another form needs it set), capped at POLL_BUDGET_SECONDS - PUBLISH_TIMEOUT_SECONDS, which a value set here may not exceed either. 0 turns follow-ups off."
  default     = null

  validation {
    condition     = var.follow_up_window_seconds == null ? true : var.follow_up_window_seconds >= 0 && var.follow_up_window_seconds <= 3540 && floor(var.follow_up_window_seconds) == var.follow_up_window_seconds
    error_message = "follow_up_window_seconds must be null (derived from the schedule) or a whole number of seconds from 0 to 3540."
  }
}

variable "function_memory_mib" {
  type        = number
  description = "Memory of each function instance, in MiB."
  default     = 512

  validation {
    condition     = var.function_memory_mib >= 256 && var.function_memory_mib <= 4096 && floor(var.function_memory_mib) == var.function_memory_mib
    error_message = "function_memory_mib must be a whole number from 256 to 4096."
  }
}

variable "function_max_instance_count" {
  type        = number
  description = "Most instances of the function at once. Overlapping polls are safe, but the Insights rate limit (INSIGHTS_MAX_RPS) applies per instance: with more than one, divide it."
  default     = 1

  validation {
    condition     = var.function_max_instance_count >= 1 && var.function_max_instance_count <= 100 && floor(var.function_max_instance_count) == var.function_max_instance_count
    error_message = "function_max_instance_count must be a whole number from 1 to 100."
  }
}

variable "function_requests_per_instance_count" {
  type        = number
  description = "Most polls one function instance serves at once (Cloud Run request concurrency). 1 is the safe default: each poll runs its own parallel Insights calls, and the rate limit (INSIGHTS_MAX_RPS) applies per instance, so concurrent polls split it. Above 1, each instance needs the memory of that many polls and gets at least 1 vCPU (Cloud Run requires it; below 2048 MiB that is more than the memory default, and billed); set back to 1, the provider keeps the CPU it no longer sets."
  default     = 1

  validation {
    condition     = var.function_requests_per_instance_count >= 1 && var.function_requests_per_instance_count <= 1000 && floor(var.function_requests_per_instance_count) == var.function_requests_per_instance_count
    error_message = "function_requests_per_instance_count must be a whole number from 1 to 1000 (Cloud Run's limit)."
  }
}

variable "poller_settings" {
  type        = map(string)
  description = "Optional settings of the poller, as environment variables (see the Configuration table of the project README): those insights_poller/settings.json declares \"tunable\"; a plan that sets another fails, listing them. The others are set by this configuration (POLL_BUDGET_SECONDS from function_timeout_seconds, FOLLOW_UP_WINDOW_SECONDS from follow_up_window_seconds or the schedule)."
  default     = {}

  validation {
    condition     = alltrue([for key, value in var.poller_settings : can(regex("^[A-Z][A-Z0-9_]*$", key)) && trimspace(value) != ""])
    error_message = "poller_settings keys must be environment variable names (upper case) with non-empty values."
  }
}

variable "create_firestore_database" {
  type        = bool
  description = "Create the Firestore database (native mode) named firestore_database_id. Set to false to use an existing one."
  default     = true
}

variable "firestore_database_id" {
  type        = string
  description = "The Firestore database holding the poller's state: created unless create_firestore_database is false. \"(default)\" selects the project's default database. Null: NAME (NAME-state for a 3-character name, a database ID having at least 4), so that two deployments with different names get a database each."
  default     = null

  validation {
    condition     = var.firestore_database_id == null ? true : var.firestore_database_id == "(default)" || can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.firestore_database_id))
    error_message = "firestore_database_id must be null (derived from name), \"(default)\" or 4-63 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "firestore_location_id" {
  type        = string
  description = "Location of a created Firestore database (a region such as us-central1, or a multi-region such as nam5). Null: the region."
  default     = null
}

variable "firestore_collection" {
  type        = string
  description = "The Firestore collection the poller keeps one document per operation in (and its watch start and cursors). Null: NAME, so that deployments sharing one database keep apart."
  default     = null

  validation {
    condition     = var.firestore_collection == null ? true : can(regex("^[A-Za-z0-9_-]{1,100}$", var.firestore_collection)) && !can(regex("^__.*__$", var.firestore_collection))
    error_message = "firestore_collection must be null (derived from name) or 1-100 letters, digits, underscores or hyphens, and not of the reserved form __NAME__."
  }
}

variable "firestore_point_in_time_recovery_enabled" {
  type        = bool
  description = "Enable point-in-time recovery (7 days of versions) on a created Firestore database."
  default     = false
}

variable "topic_message_retention_seconds" {
  type        = number
  description = "How long the events topic retains published messages, so that a subscription created later can seek back to them. 0 disables retention."
  default     = 604800

  validation {
    condition     = var.topic_message_retention_seconds == 0 || (var.topic_message_retention_seconds >= 600 && var.topic_message_retention_seconds <= 2678400)
    error_message = "topic_message_retention_seconds must be 0 or between 600 (10 minutes) and 2678400 (31 days)."
  }
}

variable "create_example_subscription" {
  type        = bool
  description = "Create an example pull subscription on the events topic, with a dead-letter topic (and a subscription keeping its messages)."
  default     = true
}

variable "example_subscription_max_delivery_attempts" {
  type        = number
  description = "Deliveries of a message to the example subscription before it goes to the dead-letter topic."
  default     = 5

  validation {
    condition     = var.example_subscription_max_delivery_attempts >= 5 && var.example_subscription_max_delivery_attempts <= 100 && floor(var.example_subscription_max_delivery_attempts) == var.example_subscription_max_delivery_attempts
    error_message = "example_subscription_max_delivery_attempts must be a whole number from 5 to 100."
  }
}

variable "subscriber_members" {
  type        = list(string)
  description = "IAM principals granted roles/pubsub.subscriber on the events topic, so that they can attach subscriptions to it, from this project or another (e.g. serviceAccount:reader@other-project.iam.gserviceaccount.com). Each creates its own subscription, in its own project; nothing is granted on the example subscription."
  default     = []

  # Named principals only: a service account, user or group (by email), or a workload or
  # workforce identity (principal:// or principalSet://). Public principals and whole domains
  # are refused.
  validation {
    condition     = alltrue([for member in var.subscriber_members : can(regex("^((serviceAccount|user|group):[^@\\s]+@[^@\\s]+\\.[^@\\s]+|principal(Set)?://[^\\s]+)$", member))])
    error_message = "subscriber_members entries must be serviceAccount:EMAIL, user:EMAIL, group:EMAIL, principal://... or principalSet://..."
  }
}

variable "source_archive_retention_days" {
  type        = number
  description = "Days a replaced source archive is kept in the source bucket before deletion."
  default     = 30

  validation {
    condition     = var.source_archive_retention_days >= 1 && floor(var.source_archive_retention_days) == var.source_archive_retention_days
    error_message = "source_archive_retention_days must be a whole number of at least 1."
  }
}

variable "image_retention_days" {
  type        = number
  description = "Days an image is kept in the image repository; the 5 most recent are always kept."
  default     = 30

  validation {
    condition     = var.image_retention_days >= 1 && floor(var.image_retention_days) == var.image_retention_days
    error_message = "image_retention_days must be a whole number of at least 1."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels added to every resource that supports them."
  default     = {}
}

variable "alert_notification_channels" {
  type        = list(string)
  description = "Notification channels (projects/P/notificationChannels/ID) the alert policies notify; empty creates the policies without notifying anyone."
  default     = []

  validation {
    condition     = alltrue([for channel in var.alert_notification_channels : can(regex("^projects/[^/]+/notificationChannels/[^/]+$", channel))])
    error_message = "alert_notification_channels entries must be projects/PROJECT/notificationChannels/ID."
  }
}

variable "alert_failed_polls_count" {
  type        = number
  description = "Failed polls within alert_failed_polls_window_minutes that raise the 'polls failing repeatedly' alert."
  default     = 3

  validation {
    condition     = var.alert_failed_polls_count >= 1 && floor(var.alert_failed_polls_count) == var.alert_failed_polls_count
    error_message = "alert_failed_polls_count must be a whole number of at least 1."
  }
}

variable "alert_failed_polls_window_minutes" {
  type        = number
  description = "The window, in minutes, over which failed polls are counted."
  default     = 30

  validation {
    condition     = var.alert_failed_polls_window_minutes >= 1 && var.alert_failed_polls_window_minutes <= 1440 && floor(var.alert_failed_polls_window_minutes) == var.alert_failed_polls_window_minutes
    error_message = "alert_failed_polls_window_minutes must be a whole number from 1 to 1440."
  }
}

variable "alert_no_successful_poll_minutes" {
  type        = number
  description = "Minutes without a successful poll before the 'no successful poll' alert fires; keep it several schedule periods long."
  default     = 30

  # A metric-absence condition lasts at most 23.5 hours (Cloud Monitoring API,
  # AlertPolicy.Condition.MetricAbsence.duration): 1410 minutes.
  validation {
    condition     = var.alert_no_successful_poll_minutes >= 5 && var.alert_no_successful_poll_minutes <= 1410 && floor(var.alert_no_successful_poll_minutes) == var.alert_no_successful_poll_minutes
    error_message = "alert_no_successful_poll_minutes must be a whole number from 5 to 1410 (a metric absence lasts at most 23.5 hours)."
  }
}

variable "alert_oldest_pending_age_minutes" {
  type        = number
  description = "Minutes the oldest still-pending operation may have been pending (a poll's summary.oldestPendingAgeSeconds) before the 'backlog growing' alert fires; keep it above how long your longest operations normally run, and below MAX_PENDING_AGE (7 days by default), when it becomes EXPIRED."
  default     = 360

  validation {
    condition     = var.alert_oldest_pending_age_minutes >= 5 && var.alert_oldest_pending_age_minutes <= 525600 && floor(var.alert_oldest_pending_age_minutes) == var.alert_oldest_pending_age_minutes
    error_message = "alert_oldest_pending_age_minutes must be a whole number from 5 to 525600 (a year)."
  }
}

variable "alert_pending_operations_count" {
  type        = number
  description = "Operations pending (a poll's summary.pending), on average over alert_backlog_minutes, above which the 'backlog growing' alert fires."
  default     = 1000

  validation {
    condition     = var.alert_pending_operations_count >= 1 && floor(var.alert_pending_operations_count) == var.alert_pending_operations_count
    error_message = "alert_pending_operations_count must be a whole number of at least 1."
  }
}

variable "alert_backlog_minutes" {
  type        = number
  description = "The window, in minutes, over which the pending operations of the polls are averaged for the 'backlog growing' alert."
  default     = 60

  validation {
    condition     = var.alert_backlog_minutes >= 5 && var.alert_backlog_minutes <= 1440 && floor(var.alert_backlog_minutes) == var.alert_backlog_minutes
    error_message = "alert_backlog_minutes must be a whole number from 5 to 1440."
  }
}
