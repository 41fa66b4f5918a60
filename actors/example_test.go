package actors_test

import (
	"fmt"
	"os"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/seed248d40c9/fulcrum/actors"
)

// An embedding program runs the broker engine inside its own actor system, with its own
// logger; Stop stops only the engine's actors and leaves the program's system running.
func ExampleStart() {
	system := actor.NewActorSystem()
	dir, _ := os.MkdirTemp("", "fulcrum-example")
	defer os.RemoveAll(dir)

	engine, err := actors.Start(actors.Options{
		System:  system,
		Logger:  zerolog.Nop(),
		DataDir: dir,
		Name:    "broker", // actor names start with broker/, clear of the program's own
	})
	if err != nil {
		panic(err)
	}
	engine.AddProxy("10.0.0.1:6001", [2]string{"10.0.0.1:7001", "10.0.0.1:7002"}, "", nil)
	engine.AddProxy("10.0.0.2:6001", [2]string{"10.0.0.2:7001", "10.0.0.2:7002"}, "", nil)
	engine.CreateCluster("mydb", 4)
	fmt.Println(string(engine.ClusterNames(0, 100).Body))
	fmt.Println(string(engine.Epoch().Body))

	// The program's own actors keep working after the engine stops.
	engine.Stop()
	echo := system.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if s, ok := c.Message().(string); ok {
			c.Respond(s)
		}
	}))
	reply, _ := system.Root.RequestFuture(echo, "still running", 1e9).Result()
	fmt.Println(reply)
	// Output:
	// {"names":["mydb"]}
	// 3
	// still running
}
