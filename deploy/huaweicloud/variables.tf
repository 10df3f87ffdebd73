# ---- where and what -------------------------------------------------------------------

variable "region" {
  description = "Region of the functions, the upload bucket, the logs and the alarms (e.g. cn-north-4)."
  type        = string
  default     = "cn-north-4"
  validation {
    condition     = can(regex("^[a-z]{2}-[a-z]+-[0-9]+$", var.region))
    error_message = "The region must be a Huawei Cloud region name such as cn-north-4 or ap-southeast-1."
  }
}

variable "name" {
  description = "Prefix of every resource name: functions <name>-recognize and <name>-redrive, agency, log group, alarms."
  type        = string
  default     = "ocrflow"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,28}[a-z0-9]$", var.name))
    error_message = "The name must be 3 to 30 lowercase letters, digits or '-', starting with a letter and not ending with '-'."
  }
}

variable "package_path" {
  description = "The function zip built by `make package` (uploaded to the artifacts bucket). Ignored when code_object_url is set."
  type        = string
  default     = "../../dist/ocrflow-functiongraph.zip"
}

variable "code_object_url" {
  description = "HTTPS URL of the function zip already in OBS (the RFS route: upload dist/ocrflow-functiongraph.zip yourself). Empty: upload package_path."
  type        = string
  default     = ""
  validation {
    condition     = var.code_object_url == "" || can(regex("^https://[a-z0-9][a-z0-9.-]+\\.obs\\.[a-z0-9-]+\\.myhuaweicloud\\.com/.+\\.zip$", var.code_object_url))
    error_message = "code_object_url must be empty or an https://BUCKET.obs.REGION.myhuaweicloud.com/KEY.zip URL."
  }
}

# ---- the upload bucket and its trigger ---------------------------------------------------

variable "upload_bucket" {
  description = "The OBS bucket whose uploads are recognised (created unless create_upload_bucket is false)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,53}[a-z0-9]$", var.upload_bucket)) && !can(regex("\\.\\.|-\\.|\\.-|^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$", var.upload_bucket))
    error_message = "The upload bucket must be a DNS-compatible OBS bucket name of 3 to 55 characters (lowercase letters, digits, '-' and '.'; the artifacts bucket adds '-ocrflow')."
  }
}

variable "create_upload_bucket" {
  description = "Create the upload bucket (private, versioned). false: use an existing bucket of that name in this region."
  type        = bool
  default     = true
}

variable "upload_prefix" {
  description = "Only objects whose key starts with this prefix trigger the function (empty: every object)."
  type        = string
  default     = ""
  validation {
    condition     = length(var.upload_prefix) <= 1024 && !can(regex("[\\x00-\\x1f]", var.upload_prefix))
    error_message = "The prefix must be at most 1024 characters without control characters."
  }
}

variable "upload_suffix" {
  description = "Only objects whose key ends with this suffix trigger the function (empty: every object), e.g. .pdf."
  type        = string
  default     = ""
  validation {
    condition     = length(var.upload_suffix) <= 1024 && !can(regex("[\\x00-\\x1f]", var.upload_suffix))
    error_message = "The suffix must be at most 1024 characters without control characters."
  }
}

variable "trigger" {
  description = "How uploads reach the function: obs (an OBS trigger, prefix and suffix applied by OBS) or eventgrid (OBS events routed through EventGrid)."
  type        = string
  default     = "obs"
  validation {
    condition     = contains(["obs", "eventgrid"], var.trigger)
    error_message = "trigger must be obs or eventgrid."
  }
}

variable "eventgrid_trigger_agency" {
  description = "With trigger = eventgrid: the agency FunctionGraph uses to create the EventGrid subscription (the console creates fgs_to_eg the first time)."
  type        = string
  default     = "fgs_to_eg"
}

variable "artifacts_bucket" {
  description = "Private bucket for the function zip, results too large for the queue (results/) and failed asynchronous invocations (failed-invocations/). Empty: <upload_bucket>-ocrflow."
  type        = string
  default     = ""
  validation {
    condition     = var.artifacts_bucket == "" || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.artifacts_bucket))
    error_message = "The artifacts bucket must be empty or a DNS-compatible OBS bucket name of 3 to 63 characters."
  }
}

# ---- OCR --------------------------------------------------------------------------------

variable "ocr_region" {
  description = "OCR_REGION: the region where your OCR packages were bought (empty: the functions' region)."
  type        = string
  default     = ""
  validation {
    condition     = var.ocr_region == "" || can(regex("^[a-z]{2}-[a-z]+-[0-9]+$", var.ocr_region))
    error_message = "ocr_region must be empty or a region name such as cn-north-4."
  }
}

variable "ocr_api_regions" {
  description = "OCR_API_REGIONS: the region of each API whose package was bought elsewhere, e.g. {\"auto-classification\" = \"cn-north-4\"}. The agency gets OCR in the project of each region named here."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for api, region in var.ocr_api_regions : can(regex("^[a-z][a-z0-9-]{1,63}$", api)) && can(regex("^[a-z]{2}-[a-z]+-[0-9]+$", region))])
    error_message = "ocr_api_regions maps API names (e.g. vat-invoice) to region names (e.g. cn-east-3)."
  }
}

variable "ocr_routes" {
  description = "OCR_ROUTES: routing rules as JSON (see docs/configuration.md, Routing); empty: general-text for every file."
  type        = string
  default     = ""
  validation {
    condition     = var.ocr_routes == "" || can(tolist(jsondecode(var.ocr_routes)))
    error_message = "ocr_routes must be empty or a JSON list of rules."
  }
}

variable "ocr_max_concurrency" {
  description = "OCR_MAX_CONCURRENCY: concurrent OCR calls within one invocation."
  type        = number
  default     = 8
  validation {
    condition     = var.ocr_max_concurrency >= 1 && var.ocr_max_concurrency <= 256 && floor(var.ocr_max_concurrency) == var.ocr_max_concurrency
    error_message = "ocr_max_concurrency must be a whole number from 1 to 256."
  }
}

variable "ocr_max_calls_per_day" {
  description = "OCR_MAX_CALLS_PER_DAY: budget guard (UTC day); null: no limit."
  type        = number
  default     = null
  validation {
    condition     = var.ocr_max_calls_per_day == null ? true : (var.ocr_max_calls_per_day >= 0 && var.ocr_max_calls_per_day <= 1000000000)
    error_message = "ocr_max_calls_per_day must be null or from 0 to 10^9."
  }
}

variable "ocr_max_calls_per_second" {
  description = "OCR_MAX_CALLS_PER_SECOND: fleet-wide rate limit (a number, or JSON {\"api\": n}); needs a shared idempotency store (create_redis or idempotency_store_url). Empty: none."
  type        = string
  default     = ""
}

# ---- functions --------------------------------------------------------------------------

variable "memory_size" {
  description = "Memory of each function, in MB."
  type        = number
  default     = 512
  validation {
    condition     = contains([128, 256, 512, 768, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096], var.memory_size)
    error_message = "memory_size must be one of FunctionGraph's sizes from 128 to 4096 MB."
  }
}

variable "timeout" {
  description = "Timeout of each function, in seconds (ocrflow keeps its OCR deadline below the remaining time)."
  type        = number
  default     = 300
  validation {
    condition     = var.timeout >= 30 && var.timeout <= 900
    error_message = "timeout must be from 30 to 900 seconds."
  }
}

variable "max_instances" {
  description = "Most instances of the recognize function running at once: with ocr_max_concurrency it bounds concurrent OCR calls, which the provider asks to hear about in advance."
  type        = number
  default     = 10
  validation {
    condition     = var.max_instances >= 1 && var.max_instances <= 1000
    error_message = "max_instances must be from 1 to 1000."
  }
}

variable "log_level" {
  description = "POWERTOOLS_LOG_LEVEL of the functions."
  type        = string
  default     = "INFO"
  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

# ---- asynchronous invocation ----------------------------------------------------------

variable "max_async_retry_attempts" {
  description = "Retries of a failed asynchronous invocation (an upload whose records were not all published) before it goes to the failure destination."
  type        = number
  default     = 2
  validation {
    condition     = var.max_async_retry_attempts >= 0 && var.max_async_retry_attempts <= 3
    error_message = "FunctionGraph allows 0 to 3 retries."
  }
}

variable "max_async_event_age_seconds" {
  description = "How long an upload event may wait for its invocation (retries included) before it goes to the failure destination."
  type        = number
  default     = 21600
  validation {
    condition     = var.max_async_event_age_seconds >= 60 && var.max_async_event_age_seconds <= 86400
    error_message = "max_async_event_age_seconds must be from 60 to 86400 (FunctionGraph's limit)."
  }
}

variable "failure_destination" {
  description = "Where a failed asynchronous invocation goes: OBS (the event kept under failed-invocations/ in the artifacts bucket, for replay) or SMN (the alarm topic)."
  type        = string
  default     = "OBS"
  validation {
    condition     = contains(["OBS", "SMN"], var.failure_destination)
    error_message = "failure_destination must be OBS or SMN."
  }
}

# ---- queues and the shared store ------------------------------------------------------

variable "result_queue_url" {
  description = "RESULT_QUEUE_URL when the queue exists (amqp://, kafka://, redis://); empty: RabbitMQ or Redis Streams on the instances created here."
  type        = string
  default     = ""
  sensitive   = true
  validation {
    condition     = var.result_queue_url == "" || can(regex("^(amqps?|kafka|redis|rediss)://", var.result_queue_url))
    error_message = "result_queue_url must be empty or an amqp://, kafka:// or redis:// URL."
  }
}

variable "failure_queue_url" {
  description = "FAILURE_QUEUE_URL when the queue exists; empty: beside the result queue."
  type        = string
  default     = ""
  sensitive   = true
  validation {
    condition     = var.failure_queue_url == "" || can(regex("^(amqps?|kafka|redis|rediss)://", var.failure_queue_url))
    error_message = "failure_queue_url must be empty or an amqp://, kafka:// or redis:// URL."
  }
}

variable "idempotency_store_url" {
  description = "IDEMPOTENCY_STORE_URL when a Redis exists (redis://…); empty: the DCS Redis created here. Every function instance must share it."
  type        = string
  default     = ""
  sensitive   = true
  validation {
    condition     = var.idempotency_store_url == "" || can(regex("^rediss?://", var.idempotency_store_url))
    error_message = "idempotency_store_url must be empty or a redis:// URL."
  }
}

variable "create_redis" {
  description = "Create a DCS Redis (single node, 128 MB) for idempotency and the fleet rate limit, and for the queues as Redis Streams when no queue URL or RabbitMQ is given."
  type        = bool
  default     = false
}

variable "create_rabbitmq" {
  description = "Create a DMS for RabbitMQ instance (single node) for the result and failure queues."
  type        = bool
  default     = false
}

variable "vpc_id" {
  description = "VPC the functions join to reach DCS or DMS (needed with create_redis or create_rabbitmq). Functions in a VPC reach OCR, OBS and Cloud Eye through its NAT gateway."
  type        = string
  default     = ""
}

variable "subnet_id" {
  description = "Subnet (network ID) in vpc_id for the functions and the instances."
  type        = string
  default     = ""
}

variable "security_group_id" {
  description = "Security group of the instances (RabbitMQ needs one); it must admit the subnet on 5672 and 6379."
  type        = string
  default     = ""
}

variable "availability_zones" {
  description = "Availability zones of the instances, e.g. [\"cn-north-4a\"]."
  type        = list(string)
  default     = []
}

variable "redis_password" {
  description = "Password of the DCS Redis created here (8 to 64 characters, three of: upper, lower, digit, special)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "rabbitmq_password" {
  description = "Password of the RabbitMQ user 'ocrflow' created here (8 to 32 characters)."
  type        = string
  default     = ""
  sensitive   = true
}

# ---- observability ------------------------------------------------------------------------

variable "log_ttl_days" {
  description = "Days LTS keeps the functions' logs."
  type        = number
  default     = 7
  validation {
    condition     = var.log_ttl_days >= 1 && var.log_ttl_days <= 365
    error_message = "log_ttl_days must be from 1 to 365."
  }
}

variable "metrics_namespace" {
  description = "OCR_METRICS_NAMESPACE: the Cloud Eye custom namespace of the OCR metrics (service.item)."
  type        = string
  default     = "OCRFLOW.OCR"
  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_]{2,31}\\.[A-Za-z][A-Za-z0-9_]{2,31}$", var.metrics_namespace)) && !can(regex("^(?i)(SYS|AGT|SRE)", var.metrics_namespace))
    error_message = "metrics_namespace must be service.item, each part 3 to 32 letters, digits or '_' starting with a letter, not starting with SYS, AGT or SRE."
  }
}

variable "alarm_email" {
  description = "E-mail address told of alarms (it must confirm the SMN subscription). Empty: no subscription."
  type        = string
  default     = ""
  validation {
    condition     = var.alarm_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be empty or an e-mail address."
  }
}

variable "alarm_topic_urn" {
  description = "An existing SMN topic for the alarms (and the SMN failure destination). Empty: a topic <name>-alarms is created."
  type        = string
  default     = ""
  validation {
    condition     = var.alarm_topic_urn == "" || can(regex("^urn:smn:", var.alarm_topic_urn))
    error_message = "alarm_topic_urn must be empty or an SMN topic URN (urn:smn:…)."
  }
}

variable "function_error_threshold" {
  description = "Alarm when a function fails at least this many times in 5 minutes (FunctionGraph's failcount)."
  type        = number
  default     = 1
  validation {
    condition     = var.function_error_threshold >= 1
    error_message = "function_error_threshold must be at least 1."
  }
}

variable "ocr_failure_threshold" {
  description = "Alarm when OCR calls of one API and region fail at least this many times in 5 minutes (OcrCallsFailed)."
  type        = number
  default     = 5
  validation {
    condition     = var.ocr_failure_threshold >= 1
    error_message = "ocr_failure_threshold must be at least 1."
  }
}
