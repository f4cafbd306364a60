using EdgeRelay;

return Cli.Execute(args, Console.Out, Console.Error);
