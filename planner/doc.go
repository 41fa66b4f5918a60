// Package planner searches for a cheaper layout of a Kafka cluster's partitions.
package planner
