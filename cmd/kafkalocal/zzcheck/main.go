package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	b, _ := os.ReadFile(os.Args[1])
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(strings.TrimSpace(string(b)), ",")...))
	if err != nil {
		panic(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		panic(err)
	}
	for _, b := range md.Brokers {
		fmt.Printf("broker %d %s:%d rack=%v\n", b.NodeID, b.Host, b.Port, *b.Rack)
	}
	fmt.Println("controller", md.Controller)
	r, err := adm.CreateTopic(ctx, 3, 3, nil, "t1")
	fmt.Println("create", r.Err, err)
	time.Sleep(time.Second)
	dirs, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		panic(err)
	}
	for broker, ds := range dirs {
		for dir, d := range ds {
			fmt.Printf("broker %d dir %s err=%v topics=%d\n", broker, dir, d.Err, len(d.Topics))
		}
	}
}
