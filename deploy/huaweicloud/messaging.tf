# Optional: a DCS Redis (idempotency, the fleet rate limit, and Redis Streams as queues) and a
# DMS for RabbitMQ instance (the result and failure queues), in the VPC the functions join.
# Existing services are given as URLs instead (result_queue_url, failure_queue_url,
# idempotency_store_url).

data "huaweicloud_dcs_flavors" "redis" {
  count      = var.create_redis ? 1 : 0
  engine     = "Redis"
  cache_mode = "single"
  capacity   = 0.125
}

resource "huaweicloud_dcs_instance" "redis" {
  count              = var.create_redis ? 1 : 0
  name               = "${var.name}-redis"
  engine             = "Redis"
  engine_version     = "6.0"
  capacity           = 0.125
  flavor             = data.huaweicloud_dcs_flavors.redis[0].flavors[0].name
  availability_zones = var.availability_zones
  vpc_id             = var.vpc_id
  subnet_id          = var.subnet_id
  password           = var.redis_password

  lifecycle {
    precondition {
      condition     = length(var.redis_password) >= 8 && length(var.availability_zones) > 0
      error_message = "create_redis needs redis_password (8 to 64 characters) and availability_zones."
    }
  }
}

data "huaweicloud_dms_rabbitmq_flavors" "queues" {
  count             = var.create_rabbitmq ? 1 : 0
  type              = "single"
  storage_spec_code = "dms.physical.storage.ultra.v2"
}

resource "huaweicloud_dms_rabbitmq_instance" "queues" {
  count              = var.create_rabbitmq ? 1 : 0
  name               = "${var.name}-queues"
  flavor_id          = data.huaweicloud_dms_rabbitmq_flavors.queues[0].flavors[0].id
  engine_version     = data.huaweicloud_dms_rabbitmq_flavors.queues[0].versions[0]
  storage_spec_code  = data.huaweicloud_dms_rabbitmq_flavors.queues[0].flavors[0].ios[0].storage_spec_code
  vpc_id             = var.vpc_id
  network_id         = var.subnet_id
  security_group_id  = var.security_group_id
  availability_zones = var.availability_zones
  access_user        = "ocrflow"
  password           = var.rabbitmq_password

  lifecycle {
    precondition {
      condition     = length(var.rabbitmq_password) >= 8 && var.security_group_id != "" && length(var.availability_zones) > 0
      error_message = "create_rabbitmq needs rabbitmq_password (8 to 32 characters), security_group_id and availability_zones."
    }
  }
}

locals {
  # passwords percent-encoded, as ocrflow reads them from the URL
  redis_url = var.create_redis ? format("redis://:%s@%s:%s/0", urlencode(var.redis_password),
    one(huaweicloud_dcs_instance.redis[*].domain_name), coalesce(one(huaweicloud_dcs_instance.redis[*].port), 6379)) : ""
  # durable queues on the default vhost; ocrflow declares them on first use
  rabbitmq_url_for = { for queue in ["ocr-results", "ocr-failures"] : queue => var.create_rabbitmq ? format(
    "amqp://ocrflow:%s@%s/%%2F?queue=%s", urlencode(var.rabbitmq_password),
    one(huaweicloud_dms_rabbitmq_instance.queues[*].connect_address), queue) : "" }
}
